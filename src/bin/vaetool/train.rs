//! `vaetool train DATA -o MODEL_DIR`: train a VAE and save the model directory.

use std::path::PathBuf;

use anyhow::Result;

use crate::args::{DataArgs, FeatureArgs, TrainArgs};
use crate::pipeline;

/// Flags of `vaetool train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    features: FeatureArgs,
    #[command(flatten)]
    train: TrainArgs,
    /// The model directory to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let params = a.train.params();
    params.check(vaetool::model::Prior::Standard)?;
    pipeline::check_device(&a.train)?;
    let target = vaetool::modeldir::ModelTarget::claim(&a.output)?;
    let table = pipeline::read(&a.data)?;
    let t = pipeline::train_model(&table, &a.data, &a.features, &params, a.train.quiet)?;
    let anomaly = pipeline::anomaly_reference(&t, a.train.seed())?;
    t.save(&target, Some(&anomaly), None)?;
    if !a.train.quiet {
        eprintln!("model written to {}", a.output.display());
    }
    Ok(())
}
