//! `vaetool sample --model M [-n N] [--cluster c | --per-cluster K] -o out.csv|out.png`:
//! generate rows in the original units (un-scaled, categoricals decoded) as CSV, or, for image
//! models, a PNG grid of generated images; from the prior, from one cluster, or one grid row
//! per cluster of a VaDE or Su model.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::data::Matrix;
use vaetool::generate::{decode_mean, sample_latents};
use vaetool::output::Output;
use vaetool::picture::{save_png, Grid};
use vaetool::VaeError;

use crate::pipeline;

/// Flags of `vaetool sample`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Number of rows to generate (default: 10 rows of CSV, 64 images in a PNG).
    #[arg(short = 'n', long)]
    n: Option<usize>,
    /// Draw every row from this cluster (VaDE or Su models).
    #[arg(long, conflicts_with = "per_cluster")]
    cluster: Option<usize>,
    /// Draw this many rows from every cluster (VaDE or Su models); a PNG gets one row of
    /// images per cluster.
    #[arg(long, value_name = "K")]
    per_cluster: Option<usize>,
    /// Images per row of a PNG grid (default: the square root of n, rounded up).
    #[arg(long)]
    cols: Option<usize>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output: CSV (default: stdout), or PNG (`*.png`, image models only).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// The most rows one `sample` run generates.
const MAX_ROWS: usize = 1_000_000;

pub fn run(a: Args) -> Result<()> {
    pipeline::guard_output(a.output.as_deref(), None, Some(&a.model), &[])?;
    let png = pipeline::wants_png(a.output.as_deref());
    let m = pipeline::load(&a.model)?;
    let vae = &m.config.model;
    let shape = pipeline::picture_shape(&m, a.output.as_deref())?;
    if a.n == Some(0) || a.per_cluster == Some(0) || a.cols == Some(0) {
        return Err(
            VaeError::Usage("-n, --per-cluster and --cols must be at least 1".into()).into(),
        );
    }
    let rows = a.n.unwrap_or(0).max(
        a.per_cluster
            .unwrap_or(0)
            .saturating_mul(vae.prior.k().unwrap_or(1)),
    );
    if rows > MAX_ROWS || a.cols.is_some_and(|c| c > MAX_ROWS) {
        return Err(VaeError::Usage(format!(
            "at most {MAX_ROWS} rows are generated at a time (asked for {}); run sample again \
             with other --seed values for more",
            rows.max(a.cols.unwrap_or(0))
        ))
        .into());
    }
    let out = if png {
        None
    } else {
        Some(Output::create(a.output.as_deref())?)
    };
    let (z, from, cols) = match a.per_cluster {
        Some(per) => {
            let k = vae.prior.k().ok_or_else(|| {
                VaeError::Usage(
                    "--per-cluster: this model has no clustering prior (train one with \
                     `vaetool cluster --method vade` or `su` and --save-model)"
                        .into(),
                )
            })?;
            let (mut z, mut from) = (Vec::new(), Vec::new());
            for c in 0..k {
                let (zc, fc) =
                    sample_latents(&m.model, vae, per, Some(c), a.seed.wrapping_add(c as u64))?;
                z.extend(zc.data);
                from.extend(fc);
            }
            (Matrix::new(k * per, vae.latent, z), from, per)
        }
        None => {
            let n = a.n.unwrap_or(if png { 64 } else { 10 });
            let (z, from) = sample_latents(&m.model, vae, n, a.cluster, a.seed)?;
            let cols = a.cols.unwrap_or((n as f64).sqrt().ceil() as usize);
            (z, from, cols)
        }
    };
    let x = decode_mean(&m.model, vae, &z, &Default::default());
    let n = x.rows;
    if let (Some(shape), Some(path)) = (shape, &a.output) {
        let tiles: Vec<&[f32]> = (0..n).map(|i| x.row(i)).collect();
        save_png(&Grid::new(n, cols, shape).render(&tiles), path)?;
        eprintln!("drew {n} generated images into {}", path.display());
        return Ok(());
    }
    let rows = m.config.schema.inverse_rows(&x);
    let clustered = from.iter().any(Option::is_some);
    let mut header: Vec<String> = Vec::new();
    if clustered {
        header.push("cluster".into());
    }
    header.extend(m.config.schema.input_names_of_columns());
    let records = rows.into_iter().zip(&from).map(|(r, c)| {
        let mut rec = Vec::with_capacity(r.len() + 1);
        if clustered {
            rec.push(c.map(|c| c.to_string()).unwrap_or_default());
        }
        rec.extend(r);
        rec
    });
    out.expect("CSV output").write_csv(&header, records)?;
    eprintln!(
        "generated {n} rows{}",
        a.cluster
            .map(|c| format!(" from cluster {c}"))
            .unwrap_or_default()
    );
    Ok(())
}
