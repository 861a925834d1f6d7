//! The `vaetool` command line: thin glue over the library. One file per subcommand; `main`
//! maps errors to exit codes (0 ok, 1 failure, 2 bad usage or input).

mod anomalies;
mod args;
mod cluster;
mod embed;
mod evaluate;
mod interpolate;
mod pipeline;
mod plot;
mod reconstruct;
mod sample;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vaetool::VaeError;

/// Find clusters and anomalies in tables and images with variational autoencoders.
#[derive(Parser)]
#[command(name = "vaetool", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a VAE on a CSV file or images and save it as a model directory.
    Train(train::Args),
    /// Write the latent means (and optionally log-variances) of every row.
    Embed(embed::Args),
    /// Cluster rows: K-means or GMM on the latent means, or one-step VaDE / Su.
    Cluster(cluster::Args),
    /// Score rows by their negative ELBO and flag anomalies.
    Anomalies(anomalies::Args),
    /// Generate rows or images from a model (from one cluster of a VaDE or Su model).
    Sample(sample::Args),
    /// Originals and their reconstructions (a PNG for image models).
    Reconstruct(reconstruct::Args),
    /// Decode the straight line between two rows' latent means.
    Interpolate(interpolate::Args),
    /// Plots: latent means, anomaly-score histograms, training curves.
    Plot(plot::Args),
    /// Compare predictions with true labels: ACC/NMI/ARI or ROC-AUC/AP.
    Evaluate(evaluate::Args),
}

fn main() -> ExitCode {
    vaetool::backend::tune_allocator();
    vaetool::output::remove_temporaries_on_signals();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Cluster(a) => cluster::run(a),
        Command::Anomalies(a) => anomalies::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Reconstruct(a) => reconstruct::run(a),
        Command::Interpolate(a) => interpolate::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Evaluate(a) => evaluate::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // a VaeError's message already says its cause (`{e:#}` would repeat the OS error)
            let vae = e.downcast_ref::<VaeError>();
            let msg = match vae {
                Some(v) => v.to_string(),
                None => format!("{e:#}"),
            };
            eprintln!("error: {}", vaetool::data::clip_message(&msg));
            let user = vae.is_some_and(VaeError::is_user_error);
            ExitCode::from(if user { 2 } else { 1 })
        }
    }
}
