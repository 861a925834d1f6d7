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

/// The version line: the package version and the GPU support this binary was built with.
const VERSION: &str = if cfg!(feature = "cuda-fused") {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (CUDA: cuda-fused, fusion + autotune)"
    )
} else if cfg!(feature = "cuda-autotune") {
    concat!(env!("CARGO_PKG_VERSION"), " (CUDA: cuda-autotune)")
} else if cfg!(feature = "cuda") {
    concat!(env!("CARGO_PKG_VERSION"), " (CUDA: cuda)")
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (CPU only; build with --features cuda for NVIDIA GPUs)"
    )
};

/// Find clusters and anomalies in tables and images with variational autoencoders.
#[derive(Parser)]
#[command(name = "vaetool", version = VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a VAE on a CSV file or images and save it as a model directory.
    #[command(after_help = "Examples:
  vaetool train datasets/iris.csv --label-column species -o iris-model
  vaetool train datasets/mnist-tiny/images-idx3-ubyte.gz --labels datasets/mnist-tiny/labels-idx1-ubyte.gz -o digits-model")]
    Train(train::Args),
    /// Write the latent means (and optionally log-variances) of every row.
    #[command(after_help = "Examples:
  vaetool embed datasets/iris.csv --model iris-model -o latents.csv
  vaetool embed datasets/iris.csv --model iris-model --with-logvar -o latents.csv")]
    Embed(embed::Args),
    /// Cluster rows: K-means or GMM on the latent means, or one-step VaDE / Su.
    #[command(after_help = "Examples:
  vaetool cluster datasets/iris.csv --k 3 --label-column species -o labels.csv
  vaetool cluster datasets/wine.csv --k 3 --label-column class --method vade --save-model wine-vade -o wine-labels.csv
  vaetool cluster datasets/wine.csv --model wine-vade -o wine-labels.csv")]
    Cluster(cluster::Args),
    /// Score rows by their negative ELBO and flag anomalies.
    #[command(after_help = "Examples:
  vaetool anomalies datasets/shuttle.csv --id-column id --label-column outlier --contamination 0.07 -o scores.csv
  vaetool anomalies datasets/shuttle.csv --id-column id --label-column outlier --save-model shuttle-model -o scores.csv
  vaetool anomalies datasets/shuttle.csv --id-column id --model shuttle-model --threshold 42.0 -o scores.csv")]
    Anomalies(anomalies::Args),
    /// Generate rows or images from a model (from one cluster of a VaDE or Su model).
    #[command(after_help = "Examples:
  vaetool sample --model wine-vade --cluster 1 -n 3
  vaetool sample --model digits-model -o samples.png")]
    Sample(sample::Args),
    /// Originals and their reconstructions (a PNG for image models).
    #[command(after_help = "Examples:
  vaetool reconstruct datasets/mnist-tiny/images-idx3-ubyte.gz --model digits-model -o recon.png
  vaetool reconstruct datasets/iris.csv --model iris-model -n 5")]
    Reconstruct(reconstruct::Args),
    /// Decode the straight line between two rows' latent means.
    #[command(after_help = "Examples:
  vaetool interpolate datasets/iris.csv --model iris-model --from 0 --to 100 -o path.csv
  vaetool interpolate datasets/mnist-tiny/images-idx3-ubyte.gz --model digits-model --from 0 --to 1 -o path.png")]
    Interpolate(interpolate::Args),
    /// Plots: latent means, anomaly-score histograms, training curves.
    #[command(after_help = "Examples:
  vaetool plot history iris-model -o loss.png
  vaetool plot latents datasets/iris.csv --model iris-model -o latents.png
  vaetool plot scores scores.csv -o scores.png")]
    Plot(plot::Args),
    /// Compare predictions with true labels: ACC/NMI/ARI or ROC-AUC/AP.
    #[command(after_help = "Examples:
  vaetool evaluate --truth datasets/wine.csv --truth-column class --pred wine-labels.csv
  vaetool evaluate --truth datasets/shuttle.csv --truth-column outlier --id-column id --scores scores.csv")]
    Evaluate(evaluate::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell or elvish) to stdout.
    #[command(after_help = "Examples:
  vaetool completions bash > ~/.local/share/bash-completion/completions/vaetool
  vaetool completions zsh > ~/.zfunc/_vaetool
  vaetool completions fish > ~/.config/fish/completions/vaetool.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
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
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "vaetool",
                &mut std::io::stdout(),
            );
            Ok(())
        }
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
