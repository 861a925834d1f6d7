//! `vaetool embed DATA --model M -o latents.csv`: latent means (and log-variances) per row.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::infer;
use vaetool::output::{fmt_f, Output};

use crate::args::DataArgs;
use crate::pipeline;

/// Flags of `vaetool embed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Also write the posterior log-variances.
    #[arg(long)]
    with_logvar: bool,
    /// Output CSV (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    pipeline::guard_output(a.output.as_deref(), Some(&a.data), Some(&a.model), &[])?;
    let out = Output::create(a.output.as_deref())?;
    let (m, _, p) = pipeline::load_and_prepare(&a.model, &a.data)?;
    if a.with_logvar && m.config.model.variant == vaetool::model::Variant::PoorMan {
        return Err(vaetool::VaeError::Usage(
            "--with-logvar: the poor man's VAE has a deterministic encoder and no posterior variance"
                .into(),
        )
        .into());
    }
    let (mu, lv) = infer::embed(&m.model, &p.x, &Default::default());
    let d = mu.cols;
    let mut header = vec![p.id_name.clone()];
    header.extend((0..d).map(|j| format!("z_{j}")));
    if a.with_logvar {
        header.extend((0..d).map(|j| format!("logvar_{j}")));
    }
    let rows = (0..mu.rows).map(|i| {
        let mut r = vec![p.ids[i].clone()];
        r.extend(mu.row(i).iter().map(|&v| fmt_f(v.into())));
        if a.with_logvar {
            r.extend(lv.row(i).iter().map(|&v| fmt_f(v.into())));
        }
        r
    });
    out.write_csv(&header, rows)?;
    eprintln!("embedded {} rows into {d} latent dimensions", mu.rows);
    Ok(())
}
