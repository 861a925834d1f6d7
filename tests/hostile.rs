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
    let lock_path = vaetool::modeldir::lock_path(&m);
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    let err = fails(&["train", &iris(), "--epochs", "3", "-o", &s(&m)], 2);
    assert!(
        err.contains("another vaetool run is writing this model directory"),
        "{err}"
    );
    assert!(!err.contains("training a VAE"), "{err}");
    drop(lock);
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

/// Runs vaetool with a time limit: a hang is a failure, not a stuck test.
fn run_within(args: &[String], secs: u64) -> std::process::Output {
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= secs {
            child.kill().unwrap();
            panic!("vaetool {args:?} still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The battery: each case's exit code and message, no panic, no file of the folder changed
/// (outputs named in a failing command never appear) and no temporary left.
#[test]
fn hostile_inputs_fail_cleanly_and_change_nothing() {
    let d = tmp();
    let p = |n: &str| s(&d.path().join(n));
    let m = d.path().join("m");
    train_quick(&m);
    // one clustering stored in a second model
    let mc = d.path().join("mc");
    train_quick(&mc);
    std::fs::copy(iris(), d.path().join("iris.csv")).unwrap();
    write(d.path(), "t.csv", "y\n0\n1\n0\n1\n");
    write(d.path(), "nan.csv", "row,score\n0,1\n1,nan\n2,3\n3,4\n");
    write(d.path(), "inf.csv", "row,score\n0,1\n1,inf\n2,3\n3,4\n");
    write(d.path(), "huge.csv", "row,score\n0,1e308\n1,-1e308\n2,3\n");
    write(d.path(), "ok_scores.csv", "row,score\n0,1\n1,2\n2,3\n3,4\n");
    let mut big = String::from("a,b\n");
    for i in 0..40 {
        big.push_str(&format!(
            "{},{}\n",
            i % 7,
            if i == 3 { "1e200" } else { "2" }
        ));
    }
    write(d.path(), "cell1e200.csv", &big);
    let mut wide = String::from("a,b\n");
    for i in 0..40 {
        let b = match i {
            3 => "1e308",
            4 => "-1e308",
            _ => "1",
        };
        wide.push_str(&format!("{},{b}\n", i % 5));
    }
    write(d.path(), "wide.csv", &wide);
    write(d.path(), "quote.csv", "a,b\n1,2\n\"3,4\n5,6\n");
    let long_name = "c".repeat(100_000);
    write(
        d.path(),
        "longname.csv",
        &format!("a,{long_name}\n1,x\n2,y\n"),
    );
    // an IDX header whose size wraps to 0 in 64 bits
    let mut idx = vec![0u8, 0, 8, 3];
    for dim in [1u32 << 22, 1 << 21, 1 << 21] {
        idx.extend(dim.to_be_bytes());
    }
    std::fs::write(d.path().join("wrap-idx3-ubyte"), &idx).unwrap();
    // a model directory whose config.json asks for a giant network
    let giant = d.path().join("giant");
    std::fs::create_dir(&giant).unwrap();
    for f in ["weights.bin", "history.csv", "summary.json", "anomaly.json"] {
        std::fs::copy(m.join(f), giant.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(m.join("config.json")).unwrap();
    let cfg = cfg.replacen("\"input_dim\": 4,", "\"input_dim\": 400000000,", 1);
    assert!(cfg.contains("400000000"));
    std::fs::write(giant.join("config.json"), cfg).unwrap();
    let file = p("iris.csv");
    let quick = ["--label-column", "species"];
    let tr = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["train", &file].iter().map(|x| x.to_string()).collect();
        v.extend(quick.iter().map(|x| x.to_string()));
        v.extend(extra.iter().map(|x| x.to_string()));
        v.extend(["-o".to_string(), p("new-model")]);
        v
    };
    let v = |a: &[&str]| -> Vec<String> { a.iter().map(|x| x.to_string()).collect() };
    let (ms, mcs) = (s(&m), s(&mc));
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        // hangs and non-finite values
        (
            v(&[
                "evaluate",
                "--truth",
                &p("t.csv"),
                "--truth-column",
                "y",
                "--scores",
                &p("nan.csv"),
            ]),
            2,
            "row 2, column 'score': \"nan\" is not a finite score",
        ),
        (
            v(&[
                "evaluate",
                "--truth",
                &p("t.csv"),
                "--truth-column",
                "y",
                "--scores",
                &p("inf.csv"),
            ]),
            2,
            "\"inf\" is not a finite score",
        ),
        (
            v(&["plot", "scores", &p("huge.csv"), "-o", &p("h.png")]),
            2,
            "more than a plot can show",
        ),
        (
            v(&["plot", "scores", &p("nan.csv"), "-o", &p("h.png")]),
            2,
            "line 3, column 'score': \"nan\" is not a finite score",
        ),
        (
            v(&[
                "plot",
                "scores",
                &p("ok_scores.csv"),
                "--threshold",
                "nan",
                "-o",
                &p("h.png"),
            ]),
            2,
            "--threshold must be a finite number",
        ),
        (
            v(&[
                "anomalies",
                &file,
                "--model",
                &ms,
                "--threshold",
                "inf",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--threshold must be a finite number",
        ),
        (
            v(&[
                "train",
                &p("cell1e200.csv"),
                "--scale",
                "none",
                "--epochs",
                "2",
                "-o",
                &p("new-model"),
            ]),
            2,
            "line 5, column 'b': the value 1e200 is out of the range the model takes",
        ),
        (
            v(&[
                "train",
                &p("wide.csv"),
                "--scale",
                "minmax",
                "--epochs",
                "2",
                "-o",
                &p("new-model"),
            ]),
            2,
            "column 'b': its values run from -1e308 to 1e308, a range too wide to scale",
        ),
        // sizes from flags and headers: refused before allocating
        (
            tr(&["--epochs", "99999999999"]),
            2,
            "--epochs must be from 1 to 1000000, got 99999999999",
        ),
        (
            tr(&["--hidden", "4000000000"]),
            2,
            "--hidden: a layer of width 4000000000; widths run from 1 to 65536",
        ),
        (
            tr(&["--hidden", "60000,60000,60000"]),
            2,
            "would have more than 1000000000 parameters",
        ),
        (
            tr(&["--latent", "100000000"]),
            2,
            "--latent 100000000: the latent dimension runs from 1 to 4096",
        ),
        (
            tr(&["--batch-size", "99999999999"]),
            2,
            "--batch-size must be from 1 to",
        ),
        (
            v(&["sample", "--model", &ms, "-n", "10000000000"]),
            2,
            "at most 1000000 rows are generated at a time",
        ),
        (
            v(&[
                "interpolate",
                &file,
                "--model",
                &ms,
                "--from",
                "0",
                "--to",
                "1",
                "--steps",
                "100000000000",
            ]),
            2,
            "100000000000 is not in 2..=100000",
        ),
        (
            v(&[
                "train",
                &s(Path::new(&dataset("mnist-tiny/png"))),
                "--image-size",
                "100000",
                "-o",
                &p("new-model"),
            ]),
            2,
            "--image-size must be from 1 to 4096, got 100000",
        ),
        (
            v(&[
                "train",
                &file,
                "--image-shape",
                "968973220x19037413721",
                "-o",
                &p("new-model"),
            ]),
            2,
            "more pixels than a model can take",
        ),
        (
            v(&["train", &p("wrap-idx3-ubyte"), "-o", &p("new-model")]),
            2,
            "the IDX header promises [4194304, 2097152, 2097152] elements",
        ),
        (
            v(&["anomalies", &file, "--model", &s(&giant), "-o", &p("o.csv")]),
            2,
            "the network would have 400000000 inputs",
        ),
        // checks that must come first
        (
            v(&[
                "cluster",
                &file,
                "--k",
                "auto",
                "--k-range",
                "200..300",
                "--label-column",
                "species",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--k-range 200..300: K must be at most the 150 rows",
        ),
        (
            v(&[
                "cluster",
                &file,
                "--k",
                "auto",
                "--k-range",
                "1..5",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "expected a range like 2..10 (K from 2), got '1..5'",
        ),
        (
            v(&["anomalies", &file, "--ensemble", "0", "-o", &p("o.csv")]),
            2,
            "0 is not in 1..=1000",
        ),
        (
            v(&[
                "interpolate",
                &file,
                "--model",
                &ms,
                "--id-column",
                "species",
                "--from",
                "setosa",
                "--to",
                "virginica",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--from 'setosa': 50 rows of",
        ),
        (
            v(&[
                "train",
                &file,
                "--epochs",
                "2",
                "-o",
                &format!("{file}/model"),
            ]),
            2,
            "is a file, not a folder",
        ),
        // messages
        (
            v(&["train", &p("missing.csv"), "-o", &p("new-model")]),
            2,
            "missing.csv: No such file or directory (os error 2)",
        ),
        (
            v(&["train", "-", "--format", "idx", "-o", &p("new-model")]),
            2,
            "IDX files and image folders are read from a path, not from standard input",
        ),
        (
            v(&["train", &p("quote.csv"), "-o", &p("new-model")]),
            2,
            "line 3: a quoted field opened on this line is never closed",
        ),
        (
            v(&[
                "train",
                &p("longname.csv"),
                "--label-column",
                &format!("{long_name}x"),
                "--epochs",
                "1",
                "-o",
                &p("new-model"),
            ]),
            2,
            "… (100001 characters)",
        ),
        // other bad input across the commands
        (
            v(&[
                "cluster",
                &file,
                "--k",
                "0",
                "--label-column",
                "species",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--k must be at least 1",
        ),
        (
            v(&[
                "cluster",
                &file,
                "--k",
                "3",
                "--method",
                "nope",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "invalid value 'nope'",
        ),
        (
            v(&[
                "anomalies",
                &file,
                "--contamination",
                "1.5",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--contamination must be strictly between 0 and 1, got 1.5",
        ),
        (
            v(&[
                "anomalies",
                &file,
                "--model",
                &ms,
                "--chunk-rows",
                "0",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--chunk-rows must be at least 1",
        ),
        (
            v(&["embed", &file, "--model", &p("no-model"), "-o", &p("o.csv")]),
            2,
            "no such model directory",
        ),
        (
            v(&["embed", &p("t.csv"), "--model", &ms, "-o", &p("o.csv")]),
            2,
            "the columns do not match the model's schema",
        ),
        (
            v(&["reconstruct", &file, "--model", &ms, "-o", &p("o.png")]),
            2,
            "was trained on a table, not on images",
        ),
        (
            v(&[
                "sample",
                "--model",
                &ms,
                "--per-cluster",
                "2",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--per-cluster: this model has no clustering prior",
        ),
        (
            v(&["plot", "history", &p("no-model"), "-o", &p("o.png")]),
            2,
            "cannot read the training history (No such file or directory (os error 2)); is",
        ),
        (
            v(&["plot", "latents", &file, "--model", &ms, "-o", &p("o.txt")]),
            2,
            "pictures are written as PNG; name the output *.png",
        ),
        (
            v(&[
                "evaluate",
                "--truth",
                &file,
                "--truth-column",
                "nope",
                "--pred",
                &p("ok_scores.csv"),
            ]),
            2,
            "no column 'nope' (columns: sepal_length,",
        ),
        (
            v(&["train", &file, "--lr=-1", "-o", &p("new-model")]),
            2,
            "--lr must be a positive number",
        ),
        (
            v(&["train", &file, "--delimiter", "ab", "-o", &p("new-model")]),
            2,
            "the delimiter must be one ASCII character",
        ),
        (
            v(&["train", &file, "--device", "tpu", "-o", &p("new-model")]),
            2,
            "unknown device 'tpu'",
        ),
        (
            v(&[
                "cluster",
                &file,
                "--model",
                &mcs,
                "--save-model",
                &p("x"),
                "--k",
                "3",
                "-o",
                &p("o.csv"),
            ]),
            2,
            "--save-model only applies when no --model is given",
        ),
    ];
    assert!(cases.len() >= 40, "{}", cases.len());
    let before = snapshot(d.path());
    for (args, code, msg) in &cases {
        let o = run_within(args, 120);
        let err = String::from_utf8_lossy(&o.stderr);
        // (arguments shown cut to 100 characters)
        let shown: Vec<String> = args.iter().map(|a| a.chars().take(100).collect()).collect();
        let err_shown: String = err.chars().take(3000).collect();
        assert_eq!(o.status.code(), Some(*code), "{shown:?}:\n{err_shown}");
        assert!(!err.contains("panicked"), "{shown:?}:\n{err_shown}");
        assert!(
            err.contains(msg),
            "{shown:?}: expected «{msg}» in:\n{err_shown}"
        );
        assert!(
            err.len() < 2000,
            "{shown:?}: a message of {} bytes",
            err.len()
        );
        assert_eq!(snapshot(d.path()), before, "{shown:?} changed the folder");
    }
    // the OS error said once, not twice
    let o = run_within(&v(&["train", &p("missing.csv"), "-o", &p("new-model")]), 60);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .matches("os error 2")
            .count(),
        1
    );
    // what did not fail: near-limit values are scaled robustly and scores stay finite
    for f in ["cell1e200.csv", "wide.csv"] {
        let (out, _) = ok(&["anomalies", &p(f), "--epochs", "3", "-o", "-"]);
        for line in out.lines().skip(1) {
            let score: f64 = line.split(',').nth(1).unwrap().parse().unwrap();
            assert!(score.is_finite(), "{f}: {line}");
        }
    }
    // a stored clustering's message
    let (_, err) = ok(&["cluster", &file, "--model", &mcs, "--k", "3", "-o", "-"]);
    assert!(err.contains("stored the clustering in"), "{err}");
    assert!(!err.contains("stored the clustering stored"), "{err}");
}

#[test]
fn a_link_loop_in_an_image_folder_is_read_once() {
    let d = tmp();
    let imgs = d.path().join("imgs");
    let src = Path::new(&dataset("mnist-tiny/png")).to_path_buf();
    for digit in ["0", "1"] {
        std::fs::create_dir_all(imgs.join(digit)).unwrap();
        for e in std::fs::read_dir(src.join(digit)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), imgs.join(digit).join(e.file_name())).unwrap();
        }
    }
    let n = snapshot(&imgs).len() - 2;
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", imgs.join("0/loop")).unwrap();
    let o = run_within(
        &[
            "train".to_string(),
            s(&imgs),
            "--epochs".into(),
            "1".into(),
            "-o".into(),
            s(&d.path().join("m")),
        ],
        120,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("on {n} images")), "{n}: {err}");
}

/// Waits until `cond` holds (polling), or fails after `secs`.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed().as_secs() < secs,
            "waited {secs} s for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(unix)]
#[test]
fn interrupted_and_killed_runs_leave_the_earlier_files_and_no_temporaries() {
    let d = tmp();
    let m = d.path().join("m");
    train_quick(&m);
    // rows enough for a streamed run of several seconds
    let mut big = String::from("sepal_length,sepal_width,petal_length,petal_width,species\n");
    for i in 0..200_000 {
        big.push_str(&format!(
            "{}.1,3.{},1.{},0.2,setosa\n",
            4 + i % 4,
            i % 10,
            i % 7
        ));
    }
    let data = write(d.path(), "big.csv", &big);
    let out = d.path().join("scores.csv");
    std::fs::write(&out, "earlier output\n").unwrap();
    let model_before = snapshot(&m);
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut child = bin()
            .args([
                "anomalies",
                &data,
                "--model",
                &s(&m),
                "--chunk-rows",
                "1000",
            ])
            .args(["--samples", "100", "-o", &s(&out)])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // the streamed output's temporary exists once rows are being written
        wait_for(60, "the output's temporary", || {
            !temporaries(d.path()).is_empty()
        });
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "signal {sig}");
        assert_eq!(temporaries(d.path()), Vec::<PathBuf>::new(), "signal {sig}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier output\n");
    }
    // retraining into the model, interrupted (SIGINT) and killed (SIGKILL) mid-training
    for sig in [libc::SIGINT, libc::SIGKILL] {
        let mut child = bin()
            .args([
                "train",
                &data,
                "--label-column",
                "species",
                "--epochs",
                "1000",
            ])
            .args(["-o", &s(&m)])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // wait for the first epoch line: training has started
        let mut err = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        wait_for(60, "the first epoch", || {
            let mut buf = [0u8; 256];
            let n = std::io::Read::read(&mut err, &mut buf).unwrap_or(0);
            seen.extend_from_slice(&buf[..n]);
            String::from_utf8_lossy(&seen).contains("epoch 1/")
        });
        unsafe { libc::kill(child.id() as i32, sig) };
        child.wait().unwrap();
        assert_eq!(snapshot(&m), model_before, "signal {sig}");
        assert_eq!(temporaries(d.path()), Vec::<PathBuf>::new(), "signal {sig}");
    }
    // and the next run writes the model normally
    train_quick(&m);
    assert_ne!(snapshot(&m), model_before);
}
