//! `vaetool._vaetool`: the native half of the Python package. It only converts: columns from
//! Python into a [`Table`], a dictionary of parameters into the library's estimators
//! ([`AnomalyDetector`], [`Clusterer`]), and the library's errors into `ValueError` with the
//! command line's message. Every decision is the library's; the scikit-learn habits live in
//! `vaetool/__init__.py`. The GIL is released while training, scoring and assigning.

use std::path::PathBuf;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use vaetool::data::image::{ImageSet, ImageShape};
use vaetool::data::input::Input;
use vaetool::data::{Column, Matrix, Table};
use vaetool::estimator::{
    AnomalyDetector, Clusterer, FittedAnomalyDetector, FittedClusterer, NClusters, Reference,
    Unwatched,
};
use vaetool::VaeError;

/// The library's error as a Python exception: `OSError` for files that cannot be read or
/// written, `ValueError` (with the command line's message) for everything else.
fn py_err(e: VaeError) -> PyErr {
    match e {
        VaeError::Read { .. } | VaeError::Write { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// A column from Python: numbers (formatted as the shortest text that reads back the same
/// value, so the library parses exactly them) or text.
#[derive(FromPyObject)]
enum PyColumn {
    Numbers(Vec<f64>),
    Text(Vec<Option<String>>),
}

/// A table from column names and columns, named `source` in messages.
fn table(source: &str, names: Vec<String>, columns: Vec<PyColumn>) -> PyResult<Table> {
    if names.len() != columns.len() {
        return Err(PyValueError::new_err(format!(
            "{source}: {} column names for {} columns",
            names.len(),
            columns.len()
        )));
    }
    let rows = columns.first().map_or(0, |c| match c {
        PyColumn::Numbers(v) => v.len(),
        PyColumn::Text(v) => v.len(),
    });
    let mut out = Vec::with_capacity(columns.len());
    for (name, c) in names.iter().zip(columns) {
        let col: Column = match c {
            PyColumn::Numbers(v) if v.len() == rows => {
                let text: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                text.iter().map(String::as_str).collect()
            }
            PyColumn::Text(v) if v.len() == rows => {
                v.iter().map(|s| s.as_deref().unwrap_or("")).collect()
            }
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{source}: column '{name}' does not have {rows} rows"
                )))
            }
        };
        out.push(col);
    }
    Ok(Table {
        source: PathBuf::from(source),
        headers: names,
        columns: out,
        // "line N" in messages: the N-th row
        lines: (1..=rows as u64).collect(),
    })
}

/// Checks column names against a schema without any rows: the command line's message for
/// missing columns, named `source`.
fn check_names(schema: &vaetool::data::Schema, source: &str, names: Vec<String>) -> PyResult<()> {
    let n = names.len();
    let t = table(
        source,
        names,
        (0..n).map(|_| PyColumn::Text(vec![])).collect(),
    )?;
    schema.transform(&t).map(|_| ()).map_err(py_err)
}

/// The feature columns of a schema, in order.
fn feature_names(schema: &vaetool::data::Schema) -> Vec<String> {
    schema
        .features
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}

/// Images from Python: `n × c × h × w` pixels, channel first, as raw little-endian bytes of
/// `u8` (0..255, divided by 255 as the IDX and image readers do) or `f32` (already in [0, 1]).
fn images(
    source: &str,
    pixels: &[u8],
    dtype: &str,
    shape: (usize, usize, usize, usize),
) -> PyResult<Input> {
    let (n, c, h, w) = shape;
    let size = ImageShape::new(c, h, w);
    let d = c.checked_mul(h).and_then(|v| v.checked_mul(w));
    let total = d.and_then(|d| d.checked_mul(n));
    let (Some(d), Some(total)) = (d, total) else {
        return Err(PyValueError::new_err(format!("{source}: too many pixels")));
    };
    let data: Vec<f32> = match dtype {
        "u8" if pixels.len() == total => pixels.iter().map(|&v| f32::from(v) / 255.0).collect(),
        "f32" if Some(pixels.len()) == total.checked_mul(4) => pixels
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        _ => {
            return Err(PyValueError::new_err(format!(
                "{source}: {} bytes of {dtype} do not make {n} images of {size}",
                pixels.len()
            )))
        }
    };
    if data.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(PyValueError::new_err(format!(
            "{source}: pixel values must be in [0, 1] (floats) or 0..255 (uint8)"
        )));
    }
    Ok(Input::Images(ImageSet {
        source: PathBuf::from(source),
        shape: size,
        x: Matrix::new(n, d, data),
        id_name: "index".into(),
        ids: (0..n).map(|i| i.to_string()).collect(),
        labels: None,
    }))
}

/// Reads a parameter of the dictionary, if present and not None.
fn get<'py, T>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>>
where
    T: pyo3::conversion::FromPyObjectOwned<'py>,
    for<'a> <T as FromPyObject<'a, 'py>>::Error: Into<PyErr>,
{
    match d.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|e| {
            let e: PyErr = e.into();
            PyValueError::new_err(format!("{key}: {e}"))
        }),
        _ => Ok(None),
    }
}

/// Parses a parameter given as text with the library's parser (the command line's words).
fn parsed<T: std::str::FromStr>(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    get::<String>(d, key)?
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| PyValueError::new_err(format!("{key}: {e}")))
        })
        .transpose()
}

/// The data and training parameters shared by both estimators.
fn common(
    d: &Bound<'_, PyDict>,
    data: &mut vaetool::data::DataOptions,
    t: &mut vaetool::estimator::TrainParams,
) -> PyResult<()> {
    if let Some(v) = get(d, "categorical")? {
        data.categorical = v;
    }
    if let Some(v) = get(d, "exclude")? {
        data.exclude = v;
    }
    if let Some(v) = parsed(d, "scale")? {
        data.scale = v;
    }
    data.impute = parsed(d, "impute")?;
    t.hidden = get(d, "hidden")?;
    t.latent = get(d, "latent")?;
    t.arch = parsed(d, "arch")?;
    t.likelihood = parsed(d, "likelihood")?;
    t.output_variance = parsed(d, "output_variance")?;
    t.augment = parsed(d, "augment")?;
    if let Some(v) = parsed(d, "variant")? {
        t.variant = v;
    }
    t.beta = get(d, "beta")?;
    t.trim = get(d, "trim")?;
    t.epochs = get(d, "epochs")?;
    t.batch_size = get(d, "batch_size")?;
    if let Some(v) = get(d, "lr")? {
        t.lr = v;
    }
    if let Some(v) = get(d, "random_state")? {
        t.seed = v;
    }
    if let Some(v) = get(d, "val_fraction")? {
        t.val_fraction = v;
    }
    if let Some(v) = parsed(d, "device")? {
        t.device = v;
    }
    Ok(())
}

/// A fitted anomaly detector.
#[pyclass(module = "vaetool._vaetool")]
struct FittedDetector(FittedAnomalyDetector);

#[pymethods]
impl FittedDetector {
    /// The anomaly scores of the rows (higher: more anomalous).
    fn score(
        &self,
        py: Python<'_>,
        source: &str,
        names: Vec<String>,
        columns: Vec<PyColumn>,
    ) -> PyResult<Vec<f64>> {
        let t = table(source, names, columns)?;
        py.detach(|| self.0.score(&t)).map_err(py_err)
    }

    /// The anomaly scores of images (see [`images`]).
    fn score_images(
        &self,
        py: Python<'_>,
        source: &str,
        pixels: &[u8],
        dtype: &str,
        shape: (usize, usize, usize, usize),
    ) -> PyResult<Vec<f64>> {
        let input = images(source, pixels, dtype, shape)?;
        py.detach(|| self.0.score_input(&input)).map_err(py_err)
    }

    /// The training rows' scores.
    fn training_scores(&self) -> Vec<f64> {
        self.0.training_scores().to_vec()
    }

    /// The stored threshold, or None.
    fn threshold(&self) -> Option<f64> {
        self.0.threshold()
    }

    /// The model's feature columns, in order.
    fn columns(&self) -> Vec<String> {
        feature_names(self.0.schema())
    }

    /// Raises the command line's error when the column names miss one of the model's.
    fn check_columns(&self, source: &str, names: Vec<String>) -> PyResult<()> {
        check_names(self.0.schema(), source, names)
    }

    /// Writes the model directory (the command line's format).
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        py.detach(|| self.0.save(&dir)).map_err(py_err)
    }

    /// Loads a model directory; scores are reproducible for `seed`.
    #[staticmethod]
    fn load(py: Python<'_>, dir: PathBuf, seed: u64) -> PyResult<Self> {
        py.detach(|| FittedAnomalyDetector::load(&dir, seed))
            .map(Self)
            .map_err(py_err)
    }
}

/// An anomaly detector with the parameters of `params`.
fn detector(params: &Bound<'_, PyDict>) -> PyResult<AnomalyDetector> {
    let mut d = AnomalyDetector::default();
    common(params, &mut d.data, &mut d.train)?;
    d.contamination = get(params, "contamination")?;
    d.fpr = get(params, "fpr")?;
    d.samples = get(params, "samples")?;
    d.score = parsed(params, "score")?;
    d.ensemble = get(params, "ensemble")?;
    Ok(d)
}

/// Trains an anomaly detector on the table with the parameters of `params`.
#[pyfunction]
fn fit_detector(
    py: Python<'_>,
    source: &str,
    names: Vec<String>,
    columns: Vec<PyColumn>,
    params: &Bound<'_, PyDict>,
) -> PyResult<FittedDetector> {
    let t = table(source, names, columns)?;
    let d = detector(params)?;
    let clean: bool = get(params, "clean")?.unwrap_or(false);
    py.detach(|| if clean { d.fit_clean(&t) } else { d.fit(&t) })
        .map(FittedDetector)
        .map_err(py_err)
}

/// Trains an anomaly detector on images (see [`images`]) with the parameters of `params`.
#[pyfunction]
fn fit_detector_images(
    py: Python<'_>,
    source: &str,
    pixels: &[u8],
    dtype: &str,
    shape: (usize, usize, usize, usize),
    params: &Bound<'_, PyDict>,
) -> PyResult<FittedDetector> {
    let input = images(source, pixels, dtype, shape)?;
    let d = detector(params)?;
    let clean: bool = get(params, "clean")?.unwrap_or(false);
    let o = Default::default();
    py.detach(|| d.fit_input(&input, &o, clean, &mut Unwatched))
        .map(|(f, _)| FittedDetector(f))
        .map_err(py_err)
}

/// A fitted clusterer.
#[pyclass(module = "vaetool._vaetool")]
struct FittedClusters(FittedClusterer);

#[pymethods]
impl FittedClusters {
    /// The clusters of the rows.
    fn predict(
        &self,
        py: Python<'_>,
        source: &str,
        names: Vec<String>,
        columns: Vec<PyColumn>,
    ) -> PyResult<Vec<usize>> {
        let t = table(source, names, columns)?;
        py.detach(|| self.0.predict(&t)).map_err(py_err)
    }

    /// Each row's cluster probabilities as rows of K values, or None (K-means).
    fn predict_proba(
        &self,
        py: Python<'_>,
        source: &str,
        names: Vec<String>,
        columns: Vec<PyColumn>,
    ) -> PyResult<Option<Vec<Vec<f32>>>> {
        let t = table(source, names, columns)?;
        let p = py.detach(|| self.0.predict_proba(&t)).map_err(py_err)?;
        Ok(p.map(|m| (0..m.rows).map(|i| m.row(i).to_vec()).collect()))
    }

    /// The clusters of images (see [`images`]) and, but for K-means, their probabilities.
    #[allow(clippy::type_complexity)]
    fn assign_images(
        &self,
        py: Python<'_>,
        source: &str,
        pixels: &[u8],
        dtype: &str,
        shape: (usize, usize, usize, usize),
    ) -> PyResult<(Vec<usize>, Option<Vec<Vec<f32>>>)> {
        let input = images(source, pixels, dtype, shape)?;
        let a = py.detach(|| self.0.assign_input(&input)).map_err(py_err)?;
        let p = a
            .probabilities
            .map(|m| (0..m.rows).map(|i| m.row(i).to_vec()).collect());
        Ok((a.labels, p))
    }

    /// The training rows' clusters.
    fn training_labels(&self) -> Vec<usize> {
        self.0.training_labels()
    }

    /// The number of clusters.
    fn k(&self) -> usize {
        self.0.k()
    }

    /// The model's feature columns, in order.
    fn columns(&self) -> Vec<String> {
        feature_names(self.0.schema())
    }

    /// Raises the command line's error when the column names miss one of the model's.
    fn check_columns(&self, source: &str, names: Vec<String>) -> PyResult<()> {
        check_names(self.0.schema(), source, names)
    }

    /// Writes the model directory (the command line's format).
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        py.detach(|| self.0.save(&dir)).map_err(py_err)
    }

    /// Loads a model directory with a clustering.
    #[staticmethod]
    fn load(py: Python<'_>, dir: PathBuf) -> PyResult<Self> {
        py.detach(|| FittedClusterer::load(&dir))
            .map(Self)
            .map_err(py_err)
    }
}

/// Trains a clusterer on the table with the parameters of `params` (`n_clusters`: a number or
/// "auto").
#[pyfunction]
fn fit_clusterer(
    py: Python<'_>,
    source: &str,
    names: Vec<String>,
    columns: Vec<PyColumn>,
    params: &Bound<'_, PyDict>,
) -> PyResult<FittedClusters> {
    let t = table(source, names, columns)?;
    let c = clusterer(params)?;
    py.detach(|| c.fit(&t)).map(FittedClusters).map_err(py_err)
}

/// Trains a clusterer on images (see [`images`]): N2D unless `method` says otherwise.
#[pyfunction]
fn fit_clusterer_images(
    py: Python<'_>,
    source: &str,
    pixels: &[u8],
    dtype: &str,
    shape: (usize, usize, usize, usize),
    params: &Bound<'_, PyDict>,
) -> PyResult<FittedClusters> {
    let input = images(source, pixels, dtype, shape)?;
    let c = clusterer(params)?;
    let o = Default::default();
    py.detach(|| c.fit_input(&input, &o, Reference::Keep, &mut Unwatched))
        .map(|(f, _)| FittedClusters(f))
        .map_err(py_err)
}

/// A clusterer with the parameters of `params` (`n_clusters`: a number or "auto").
fn clusterer(params: &Bound<'_, PyDict>) -> PyResult<Clusterer> {
    let k = match params.get_item("n_clusters")? {
        Some(v) if v.extract::<String>().is_ok_and(|s| s == "auto") => NClusters::auto(),
        Some(v) => NClusters::Fixed(v.extract()?),
        None => {
            return Err(PyValueError::new_err(
                "n_clusters is required (a number of clusters, or \"auto\")",
            ))
        }
    };
    let mut c = Clusterer::with_k(k);
    common(params, &mut c.data, &mut c.train)?;
    c.method = parsed(params, "method")?;
    if let Some(v) = get(params, "n_init")? {
        c.n_init = v;
    }
    if let Some(v) = get(params, "neighbors")? {
        c.neighbors = v;
    }
    c.one_step.pretrain_epochs = get(params, "pretrain_epochs")?;
    Ok(c)
}

/// The native module.
#[pymodule]
fn _vaetool(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FittedDetector>()?;
    m.add_class::<FittedClusters>()?;
    m.add_function(wrap_pyfunction!(fit_detector, m)?)?;
    m.add_function(wrap_pyfunction!(fit_clusterer, m)?)?;
    m.add_function(wrap_pyfunction!(fit_detector_images, m)?)?;
    m.add_function(wrap_pyfunction!(fit_clusterer_images, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
