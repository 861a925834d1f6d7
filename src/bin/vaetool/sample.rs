//! `vaetool sample --model M [--cluster c] -n N -o rows.csv`: generate rows in the original
//! units (un-scaled, categoricals decoded), from the prior or from one cluster of a VaDE or Su
//! model.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::generate::{decode_mean, sample_latents};
use vaetool::output::Output;
use vaetool::VaeError;

use crate::pipeline;

/// Flags of `vaetool sample`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Number of rows to generate.
    #[arg(short = 'n', long, default_value_t = 10)]
    n: usize,
    /// Draw every row from this cluster (VaDE or Su models).
    #[arg(long)]
    cluster: Option<usize>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output CSV (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    if a.n == 0 {
        return Err(VaeError::Usage("-n must be at least 1".into()).into());
    }
    let out = Output::create(a.output.as_deref())?;
    let m = pipeline::load(&a.model)?;
    let vae = &m.config.model;
    let (z, from) = sample_latents(&m.model, vae, a.n, a.cluster, a.seed)?;
    let x = decode_mean(&m.model, vae, &z, &Default::default());
    let rows = m.config.schema.inverse_rows(&x);
    let clustered = from.iter().any(Option::is_some);
    let mut header: Vec<String> = Vec::new();
    if clustered {
        header.push("cluster".into());
    }
    header.extend(
        m.config
            .schema
            .features
            .iter()
            .map(|f| f.name().to_string()),
    );
    let records = rows.into_iter().zip(&from).map(|(r, c)| {
        let mut rec = Vec::with_capacity(r.len() + 1);
        if clustered {
            rec.push(c.map(|c| c.to_string()).unwrap_or_default());
        }
        rec.extend(r);
        rec
    });
    out.write_csv(&header, records)?;
    eprintln!(
        "generated {} rows{}",
        a.n,
        a.cluster
            .map(|c| format!(" from cluster {c}"))
            .unwrap_or_default()
    );
    Ok(())
}
