//! The model-directory loader on any files: a real model's directory (fuzz/seed-model, made
//! by `vaetool train`) with one of its files replaced by the input; loading and reading the
//! stored states must give a model or an error, never a panic or an allocation the input asks
//! for (`"input_dim": 400000000`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaetool::backend::Cpu;

const FILES: [&str; 5] = [
    "config.json",
    "weights.bin",
    "history.csv",
    "anomaly.json",
    "clustering.json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seed-model");
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    std::fs::create_dir(&m).unwrap();
    for f in FILES {
        if let Ok(b) = std::fs::read(seed.join(f)) {
            std::fs::write(m.join(f), b).unwrap();
        }
    }
    std::fs::write(m.join(FILES[which as usize % FILES.len()]), body).unwrap();
    let _ = vaetool::modeldir::load_history(&m);
    if let Ok(loaded) = vaetool::modeldir::load::<Cpu>(&m, &Default::default()) {
        let _ = loaded.anomaly();
        let _ = loaded.clustering();
    }
});
