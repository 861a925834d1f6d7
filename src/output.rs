//! Atomic output: data goes to a temporary file beside the target and is renamed over it only
//! when complete, so a failed run never leaves a partial file (and an earlier file survives).
//! Temporaries are created only when the output is written, and are registered so that an
//! interrupted run (SIGINT, SIGTERM, SIGHUP; see [`remove_temporaries_on_signals`]) removes
//! them before it exits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

use crate::error::{Result, VaeError};

/// Temporary files and folders of this process, removed when a signal ends it.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary file or folder to be removed if a signal ends the process.
pub fn register_temporary(path: &Path) {
    if let Ok(mut t) = TEMPORARIES.lock() {
        t.push(path.to_path_buf());
    }
}

/// Forgets a temporary registered by [`register_temporary`] (it was renamed or removed).
pub fn unregister_temporary(path: &Path) {
    if let Ok(mut t) = TEMPORARIES.lock() {
        t.retain(|p| p != path);
    }
}

/// On SIGINT, SIGTERM or SIGHUP: removes every registered temporary and exits with 128 + the
/// signal's number, as the default action would, but leaving no `.vaetool-*` files behind.
/// Call once at start-up (the binary does). SIGKILL cannot be caught: there the temporaries'
/// short lives are the protection.
pub fn remove_temporaries_on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let paths = TEMPORARIES.lock().map(|t| t.clone()).unwrap_or_default();
                for p in paths {
                    if p.is_dir() {
                        let _ = std::fs::remove_dir_all(&p);
                    } else {
                        let _ = std::fs::remove_file(&p);
                    }
                }
                std::process::exit(128 + sig);
            }
        });
    }
}

/// A temporary file beside an output, registered for removal on signals while it lives.
struct Temp {
    file: Option<NamedTempFile>,
}

impl Temp {
    fn beside(path: &Path) -> Result<Temp> {
        let file = temp_builder()
            .prefix(".vaetool-")
            .suffix(".tmp")
            .tempfile_in(parent_of(path))
            .map_err(|source| VaeError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        register_temporary(file.path());
        Ok(Temp { file: Some(file) })
    }

    fn file(&self) -> &NamedTempFile {
        self.file.as_ref().expect("a live temporary")
    }

    /// Renames the temporary over `path` (after syncing it).
    fn commit(mut self, path: &Path) -> Result<()> {
        let tmp = self.file.take().expect("a live temporary");
        let name = tmp.path().to_path_buf();
        let r = commit(tmp, path);
        unregister_temporary(&name);
        r
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            unregister_temporary(f.path());
        }
    }
}

/// The folder an output goes into.
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// An output that is either stdout or a file written atomically.
pub struct Output {
    target: Option<PathBuf>,
}

impl Output {
    /// Opens the output: `None` or `-` is stdout. Whether the location is writable is checked
    /// at once, so an unwritable one fails before any work is done; the temporary file that
    /// receives the output is created only when it is written.
    pub fn create(path: Option<&Path>) -> Result<Output> {
        let path = match path {
            None => return Ok(Output { target: None }),
            Some(p) if p == Path::new("-") => return Ok(Output { target: None }),
            Some(p) => p,
        };
        if path.is_dir() {
            return Err(VaeError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other("is a directory"),
            });
        }
        // a probe, removed at once: fails now for a missing or unwritable folder
        drop(Temp::beside(path)?);
        Ok(Output {
            target: Some(path.to_path_buf()),
        })
    }

    /// True when writing to stdout.
    pub fn is_stdout(&self) -> bool {
        self.target.is_none()
    }

    /// Writes a CSV with a header and the given rows, then commits.
    pub fn write_csv<I, R>(self, header: &[String], rows: I) -> Result<()>
    where
        I: IntoIterator<Item = R>,
        R: IntoIterator<Item = String>,
    {
        let mut sink = self.csv_sink(header)?;
        for r in rows {
            sink.write(r)?;
        }
        sink.finish()
    }

    /// A CSV writer for output produced piece by piece; [`CsvSink::finish`] commits it.
    pub fn csv_sink(self, header: &[String]) -> Result<CsvSink> {
        let name = self.name();
        let (w, target): (Box<dyn Write>, _) = match self.target {
            None => (Box::new(std::io::stdout().lock()), None),
            Some(path) => {
                let tmp = Temp::beside(&path)?;
                let f = tmp.file().reopen().map_err(|source| VaeError::Write {
                    path: path.clone(),
                    source,
                })?;
                (Box::new(std::io::BufWriter::new(f)), Some((tmp, path)))
            }
        };
        let mut sink = CsvSink {
            writer: csv::Writer::from_writer(w),
            target,
            name,
        };
        sink.write(header.iter().cloned())?;
        Ok(sink)
    }

    fn name(&self) -> String {
        self.target
            .as_ref()
            .map_or("-".into(), |p| p.display().to_string())
    }
}

/// A CSV output written record by record (streaming), renamed into place by [`CsvSink::finish`];
/// dropped without `finish`, it leaves no file behind.
pub struct CsvSink {
    writer: csv::Writer<Box<dyn Write>>,
    target: Option<(Temp, PathBuf)>,
    name: String,
}

impl CsvSink {
    /// Writes one record.
    pub fn write<I, T>(&mut self, record: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer
            .write_record(record)
            .map_err(|e| VaeError::Write {
                path: PathBuf::from(&self.name),
                source: std::io::Error::other(e.to_string()),
            })
    }

    /// Flushes and commits the output.
    pub fn finish(mut self) -> Result<()> {
        self.writer.flush().map_err(|source| VaeError::Write {
            path: PathBuf::from(&self.name),
            source,
        })?;
        drop(self.writer);
        match self.target {
            None => Ok(()),
            Some((tmp, path)) => tmp.commit(&path),
        }
    }
}

fn commit(tmp: NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file().sync_all().map_err(|source| VaeError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    tmp.persist(path).map_err(|e| VaeError::Write {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// The canonical form of a path that may not exist yet (its folder's canonical form and its
/// name); `None` when not even the folder exists.
fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(dir.canonicalize().ok()?.join(p.file_name()?))
}

/// Refuses an output path that names one of the command's inputs, compared as canonical
/// paths (so `./data.csv`, `dir/../data.csv` and a link to the file all count): writing the
/// output would replace the input. `-` (stdout / stdin) is never compared.
pub fn check_not_an_input(output: Option<&Path>, inputs: &[&Path]) -> Result<()> {
    let Some(out) = output.filter(|o| *o != Path::new("-")) else {
        return Ok(());
    };
    let Some(o) = canonical(out) else {
        return Ok(());
    };
    for input in inputs.iter().filter(|i| **i != Path::new("-")) {
        if canonical(input).is_some_and(|i| i == o) {
            return Err(VaeError::Usage(format!(
                "-o {}: that is an input of this command ({}); write the output to another file",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = Temp::beside(path)?;
    tmp.file()
        .as_file()
        .write_all(bytes)
        .map_err(|source| VaeError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    tmp.commit(path)
}

/// A temporary-file builder whose files get the permissions a plainly created one would:
/// `0o666` less the umask, instead of tempfile's private `0o600`, since they are renamed into
/// place as the user's output.
fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b
}

/// Formats a float for CSV output: shortest round-trip representation.
pub fn fmt_f(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn outputs_are_not_private_files() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("o.csv");
        write_atomic(&p, b"a\n").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        // 0o666 less the umask: the group or others can read unless the umask forbids it
        let plain = d.path().join("plain");
        std::fs::write(&plain, b"").unwrap();
        let want = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "{mode:o} vs {want:o}");
    }

    #[test]
    fn writes_atomically_and_leaves_no_temp_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        Output::create(Some(&p))
            .unwrap()
            .write_csv(&["a".into()], vec![vec!["1".to_string()]])
            .unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n1\n");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_sink_commits_only_when_finished() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.csv");
        let mut sink = Output::create(Some(&p))
            .unwrap()
            .csv_sink(&["a".into(), "b".into()])
            .unwrap();
        sink.write(["1".to_string(), "2".to_string()]).unwrap();
        drop(sink);
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        let mut sink = Output::create(Some(&p))
            .unwrap()
            .csv_sink(&["a".into()])
            .unwrap();
        sink.write(["1".to_string()]).unwrap();
        sink.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\n1\n");
    }

    #[test]
    fn unwritable_location_fails_up_front() {
        let e = Output::create(Some(Path::new("/nonexistent-dir/x.csv")))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("cannot write /nonexistent-dir/x.csv"), "{e}");
    }
}
