//! Atomic output: data goes to a temporary file beside the target and is renamed over it only
//! when complete, so a failed run never leaves a partial file (and an earlier file survives).

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Result, VaeError};

/// An output that is either stdout or a file written atomically.
pub struct Output {
    target: Option<(NamedTempFile, PathBuf)>,
}

impl Output {
    /// Opens the output: `None` or `-` is stdout. The temporary file is created at once, so an
    /// unwritable location fails before any work is done.
    pub fn create(path: Option<&Path>) -> Result<Output> {
        let path = match path {
            None => return Ok(Output { target: None }),
            Some(p) if p == Path::new("-") => return Ok(Output { target: None }),
            Some(p) => p,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if path.is_dir() {
            return Err(VaeError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other("is a directory"),
            });
        }
        let tmp = temp_builder(false)
            .prefix(".vaetool-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|source| VaeError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Output {
            target: Some((tmp, path.to_path_buf())),
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
        let name = self.name();
        let err = |e: csv::Error| VaeError::Write {
            path: PathBuf::from(&name),
            source: std::io::Error::other(e.to_string()),
        };
        match self.target {
            None => {
                let mut w = csv::Writer::from_writer(std::io::stdout().lock());
                w.write_record(header).map_err(err)?;
                for r in rows {
                    w.write_record(r).map_err(err)?;
                }
                w.flush().map_err(|source| VaeError::Write {
                    path: PathBuf::from("-"),
                    source,
                })?;
                Ok(())
            }
            Some((tmp, path)) => {
                let mut w = csv::Writer::from_writer(std::io::BufWriter::new(tmp));
                w.write_record(header).map_err(err)?;
                for r in rows {
                    w.write_record(r).map_err(err)?;
                }
                let tmp = w
                    .into_inner()
                    .map_err(|e| VaeError::Write {
                        path: path.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })?
                    .into_inner()
                    .map_err(|e| VaeError::Write {
                        path: path.clone(),
                        source: e.into_error(),
                    })?;
                commit(tmp, &path)
            }
        }
    }

    /// A CSV writer for output produced piece by piece; [`CsvSink::finish`] commits it.
    pub fn csv_sink(self, header: &[String]) -> Result<CsvSink> {
        let name = self.name();
        let (w, target): (Box<dyn Write>, _) = match self.target {
            None => (Box::new(std::io::stdout()), None),
            Some((tmp, path)) => {
                let f = tmp.reopen().map_err(|source| VaeError::Write {
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
            .map_or("-".into(), |(_, p)| p.display().to_string())
    }
}

/// A CSV output written record by record (streaming), renamed into place by [`CsvSink::finish`];
/// dropped without `finish`, it leaves no file behind.
pub struct CsvSink {
    writer: csv::Writer<Box<dyn Write>>,
    target: Option<(NamedTempFile, PathBuf)>,
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
            Some((tmp, path)) => commit(tmp, &path),
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
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| VaeError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = temp_builder(false)
        .prefix(".vaetool-")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    commit(tmp, path)
}

/// A temporary-file builder whose files (or directories) get the permissions a plainly
/// created one would: `0o666` (`0o777`) less the umask, instead of tempfile's private `0o600`
/// (`0o700`), since they are renamed into place as the user's output.
pub(crate) fn temp_builder(dir: bool) -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(if dir {
            0o777
        } else {
            0o666
        }));
    }
    #[cfg(not(unix))]
    let _ = dir;
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
