//! Hostile inputs and faults (vaetool 12): each case runs the real binary and asserts the exit
//! code, the message, and that no file the user had was changed or deleted, and that no
//! temporary was left behind.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Every file below `dir` (links as their target's path) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if meta.is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&p).unwrap().display().to_string().into(),
                );
            } else if meta.is_dir() {
                out.insert(rel, b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Names below `dir` that look like vaetool's temporaries.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(".vaetool") || n.contains(".vaetool-")
        })
        .collect()
}

fn iris() -> String {
    dataset("iris.csv")
}

/// A quick model: 3 epochs on iris.
fn train_quick(dir: &Path) {
    ok(&[
        "train",
        &iris(),
        "--label-column",
        "species",
        "--epochs",
        "3",
        "-q",
        "-o",
        &s(dir),
    ]);
}

#[test]
fn train_refuses_a_folder_that_is_not_a_vaetool_model() {
    let d = tmp();
    let proj = d.path().join("proj");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::write(proj.join("config.json"), "{\"name\":\"app\"}").unwrap();
    std::fs::write(proj.join("src/main.rs"), "x\n").unwrap();
    let before = snapshot(d.path());
    let err = fails(
        &[
            "train",
            &iris(),
            "--label-column",
            "species",
            "--epochs",
            "3",
            "-o",
            &s(&proj),
        ],
        2,
    );
    assert!(
        err.contains("exists and is not a vaetool model directory")
            && err.contains("refusing to replace it"),
        "{err}"
    );
    // refused before any training
    assert!(!err.contains("training a VAE"), "{err}");
    assert_eq!(snapshot(d.path()), before);
    // the same for --save-model of cluster and anomalies, and for a plain file
    let file = write(d.path(), "notes.txt", "mine\n");
    let before = snapshot(d.path());
    for args in [
        vec![
            "cluster",
            &iris(),
            "--k",
            "3",
            "--save-model",
            &s(&proj),
            "-o",
            "-",
        ],
        vec!["anomalies", &iris(), "--save-model", &s(&proj), "-o", "-"],
    ] {
        let err = fails(&args, 2);
        assert!(err.contains("is not a vaetool model directory"), "{err}");
    }
    let err = fails(&["train", &iris(), "--epochs", "3", "-o", &file], 2);
    assert!(err.contains("exists and is not a folder"), "{err}");
    // under a regular file: at once, not after training
    let err = fails(
        &[
            "train",
            &iris(),
            "--epochs",
            "3",
            "-o",
            &format!("{file}/model"),
        ],
        2,
    );
    assert!(err.contains("is a file, not a folder"), "{err}");
    assert!(!err.contains("training a VAE"), "{err}");
    assert_eq!(snapshot(d.path()), before);
}

#[test]
fn retraining_keeps_the_users_files_in_the_model_directory() {
    let d = tmp();
    let m = d.path().join("m");
    train_quick(&m);
    std::fs::write(m.join("notes.txt"), "my notes\n").unwrap();
    std::fs::create_dir(m.join("plots")).unwrap();
    ok(&[
        "plot",
        "history",
        &s(&m),
        "-o",
        &s(&m.join("plots/loss.png")),
    ]);
    let png = std::fs::read(m.join("plots/loss.png")).unwrap();
    let weights = std::fs::read(m.join("weights.bin")).unwrap();
    ok(&[
        "train",
        &iris(),
        "--label-column",
        "species",
        "--epochs",
        "4",
        "--seed",
        "7",
        "-q",
        "-o",
        &s(&m),
    ]);
    assert_eq!(
        std::fs::read_to_string(m.join("notes.txt")).unwrap(),
        "my notes\n"
    );
    assert_eq!(std::fs::read(m.join("plots/loss.png")).unwrap(), png);
    assert_ne!(
        std::fs::read(m.join("weights.bin")).unwrap(),
        weights,
        "retrained"
    );
    assert!(
        std::fs::read_to_string(m.join("history.csv"))
            .unwrap()
            .lines()
            .count()
            == 5
    );
    assert_eq!(temporaries(d.path()), Vec::<PathBuf>::new());
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let d = tmp();
    let data = d.path().join("s.csv");
    std::fs::copy(iris(), &data).unwrap();
    let m = d.path().join("m");
    train_quick(&m);
    let before = snapshot(d.path());
    let dot = format!("{}/./s.csv", d.path().display());
    let link = d.path().join("link.csv");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&data, &link).unwrap();
    let before_link = snapshot(d.path());
    let cases: Vec<Vec<String>> = vec![
        vec![
            "cluster".into(),
            s(&data),
            "--k".into(),
            "3".into(),
            "-o".into(),
            s(&data),
        ],
        vec![
            "cluster".into(),
            s(&data),
            "--k".into(),
            "3".into(),
            "-o".into(),
            dot.clone(),
        ],
        vec![
            "cluster".into(),
            s(&data),
            "--k".into(),
            "3".into(),
            "-o".into(),
            s(&link),
        ],
        vec![
            "embed".into(),
            s(&data),
            "--model".into(),
            s(&m),
            "-o".into(),
            s(&data),
        ],
        vec![
            "anomalies".into(),
            s(&data),
            "--model".into(),
            s(&m),
            "--chunk-rows".into(),
            "50".into(),
            "-o".into(),
            s(&data),
        ],
        vec!["anomalies".into(), s(&data), "-o".into(), s(&data)],
        vec![
            "reconstruct".into(),
            s(&data),
            "--model".into(),
            s(&m),
            "-o".into(),
            s(&data),
        ],
        vec![
            "anomalies".into(),
            s(&data),
            "--model".into(),
            s(&m),
            "-o".into(),
            s(&m.join("config.json")),
        ],
        vec![
            "sample".into(),
            "--model".into(),
            s(&m),
            "-o".into(),
            s(&m.join("history.csv")),
        ],
    ];
    for c in &cases {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let err = fails(&args, 2);
        assert!(
            err.contains("that is an input of this command") && err.contains("-o "),
            "{args:?}: {err}"
        );
    }
    let _ = before;
    assert_eq!(snapshot(d.path()), before_link);
    // plot scores reading and writing one file
    let scores = write(d.path(), "scores.png", "row,score\n0,1\n1,2\n");
    let err = fails(&["plot", "scores", &scores, "-o", &scores], 2);
    assert!(err.contains("that is an input of this command"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap(),
        "row,score\n0,1\n1,2\n"
    );
}

#[test]
fn an_interrupted_swap_is_repaired_by_the_next_run() {
    let d = tmp();
    let m = d.path().join("m");
    train_quick(&m);
    let model = snapshot(&m);
    let aside = d.path().join(".m.vaetool-old");
    let half = d.path().join(".m.vaetool-new");
    // killed after moving the old model aside, before the new one was renamed in
    std::fs::rename(&m, &aside).unwrap();
    std::fs::create_dir(&half).unwrap();
    std::fs::write(half.join("config.json"), "{").unwrap();
    // a reading command finds the model back where it was
    let (out, _) = ok(&["anomalies", &iris(), "--model", &s(&m), "-o", "-"]);
    assert!(out.starts_with("row,score"), "{out}");
    assert_eq!(snapshot(&m), model);
    assert!(!aside.exists());
    // killed after the swap, before the old one was deleted: the next write cleans up
    std::fs::create_dir(&aside).unwrap();
    std::fs::write(aside.join("weights.bin"), "old").unwrap();
    train_quick(&m);
    assert!(!aside.exists() && !half.exists());
    assert_eq!(temporaries(d.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_second_run_writing_the_same_model_fails_at_once() {
    let d = tmp();
    let m = d.path().join("m");
    train_quick(&m);
    let before = snapshot(d.path());
    // another run holds the lock
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(d.path().join(".m.vaetool-lock"))
        .unwrap();
    lock.lock().unwrap();
    let err = fails(&["train", &iris(), "--epochs", "3", "-o", &s(&m)], 2);
    assert!(
        err.contains("another vaetool run is writing this model directory"),
        "{err}"
    );
    assert!(!err.contains("training a VAE"), "{err}");
    drop(lock);
    std::fs::remove_file(d.path().join(".m.vaetool-lock")).unwrap();
    assert_eq!(snapshot(d.path()), before);
    // two real runs at once: exactly one writes the model, the other says why it did not
    let run = || {
        bin()
            .args([
                "train",
                &iris(),
                "--label-column",
                "species",
                "--epochs",
                "200",
                "-q",
                "-o",
                &s(&m),
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (run(), run());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.contains(&Some(0)), "{codes:?}");
    if codes != [Some(0), Some(0)] {
        // (two zeros: the first finished before the second started)
        let loser = if a.status.success() { &b } else { &a };
        assert_eq!(loser.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&loser.stderr).contains("another vaetool run"));
    }
    assert_eq!(temporaries(d.path()), Vec::<PathBuf>::new());
}
