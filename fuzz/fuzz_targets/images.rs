//! The image-folder reader on any file bytes: two files in a folder (the input cut in two,
//! named .png and .jpg), read as they are and resized; a set of images or an error, never a
//! panic (the image decoders' own limits bound what a header can ask for).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaetool::data::image::{read_image_folder, FolderOptions};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::create_dir(&a).unwrap();
    let cut = data.len() / 2;
    std::fs::write(a.join("x.png"), &data[..cut]).unwrap();
    std::fs::write(a.join("y.jpg"), &data[cut..]).unwrap();
    for opts in [
        FolderOptions::default(),
        FolderOptions {
            size: Some((8, 8)),
            channels: Some(1),
        },
    ] {
        if let Ok(s) = read_image_folder(dir.path(), &opts) {
            assert_eq!(s.x.rows * s.x.cols, s.x.data.len());
            assert!(s.x.data.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
});
