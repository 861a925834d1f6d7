//! `vaetool reconstruct DATA --model M [-n 16] [--random] -o recon.png|recon.csv`: n rows and
//! the model's reconstructions of them (decoded posterior means). Image models draw a PNG
//! with each row of originals above its row of reconstructions; tabular models write the
//! reconstructed rows in the original units as CSV.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::data::Matrix;
use vaetool::generate::reconstruct;
use vaetool::output::Output;
use vaetool::picture::{save_png, Grid};
use vaetool::VaeError;

use crate::args::DataArgs;
use crate::pipeline;

/// Flags of `vaetool reconstruct`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Number of rows (the first n of DATA).
    #[arg(short = 'n', long, default_value_t = 16)]
    n: usize,
    /// Pick n rows at random (seeded) instead of the first n.
    #[arg(long)]
    random: bool,
    /// Seed of `--random`.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Images per row of the PNG.
    #[arg(long, default_value_t = 8)]
    cols: usize,
    /// Output: PNG (`*.png`, image models) or CSV (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    if a.n == 0 || a.cols == 0 {
        return Err(VaeError::Usage("-n and --cols must be at least 1".into()).into());
    }
    pipeline::guard_output(a.output.as_deref(), Some(&a.data), Some(&a.model), &[])?;
    let (m, _, p) = pipeline::load_and_prepare(&a.model, &a.data)?;
    let shape = pipeline::picture_shape(&m, a.output.as_deref())?;
    let n = a.n.min(p.x.rows);
    let rows: Vec<usize> = if a.random {
        use rand::seq::index::sample;
        use rand::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(a.seed);
        let mut r = sample(&mut rng, p.x.rows, n).into_vec();
        r.sort_unstable();
        r
    } else {
        (0..n).collect()
    };
    let x = Matrix::new(n, p.x.cols, p.x.gather_rows(&rows));
    let r = reconstruct(&m.model, &m.config.model, &x, &Default::default());
    if let (Some(shape), Some(path)) = (shape, &a.output) {
        let cols = a.cols.min(n);
        let mut tiles: Vec<Option<&[f32]>> = Vec::new();
        for start in (0..n).step_by(cols) {
            for src in [&x, &r] {
                tiles.extend((start..start + cols).map(|i| (i < n).then(|| src.row(i))));
            }
        }
        let grid = Grid::new(tiles.len(), cols, shape);
        save_png(&grid.render_tiles(&tiles), path)?;
        eprintln!(
            "drew {n} images (rows of originals over their reconstructions) into {}",
            path.display()
        );
        return Ok(());
    }
    let out = Output::create(a.output.as_deref())?;
    let mut header = vec![p.id_name.clone()];
    header.extend(m.config.schema.input_names_of_columns());
    let out_rows = m.config.schema.inverse_rows(&r);
    out.write_csv(
        &header,
        out_rows.into_iter().zip(&rows).map(|(mut row, &i)| {
            row.insert(0, p.ids[i].clone());
            row
        }),
    )?;
    eprintln!("reconstructed {n} rows");
    Ok(())
}
