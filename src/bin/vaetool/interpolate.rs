//! `vaetool interpolate DATA --model M --from ID --to ID [--steps 10] -o interp.png|.csv`:
//! decodes evenly spaced points on the straight line between the latent means of two rows.
//! Image models draw one row: the first original, the decoded steps, the second original;
//! tabular models write the decoded rows in the original units as CSV.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::generate::{decode_mean, interpolate};
use vaetool::infer::embed;
use vaetool::output::Output;
use vaetool::picture::{save_png, Grid};
use vaetool::VaeError;

use crate::args::DataArgs;
use crate::pipeline;

/// Flags of `vaetool interpolate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Id of the first row (the id column, an image's path in its folder, or its IDX index).
    #[arg(long)]
    from: String,
    /// Id of the second row.
    #[arg(long)]
    to: String,
    /// Points on the line, both ends included.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    steps: u64,
    /// Output: PNG (`*.png`, image models) or CSV (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let steps = a.steps as usize; // 2..=100,000 (clap)
    pipeline::guard_output(a.output.as_deref(), Some(&a.data), Some(&a.model), &[])?;
    let (m, input, p) = pipeline::load_and_prepare(&a.model, &a.data)?;
    let shape = pipeline::picture_shape(&m, a.output.as_deref())?;
    let find = |flag: &str, id: &str| -> Result<usize> {
        let n = p.ids.iter().filter(|i| *i == id).count();
        if n > 1 {
            return Err(VaeError::Usage(format!(
                "{flag} '{}': {n} rows of {} have this {}; name a row by a unique id \
                 (--id-column)",
                vaetool::data::clip(id),
                input.source_name(),
                p.id_name
            ))
            .into());
        }
        p.ids.iter().position(|i| i == id).ok_or_else(|| {
            VaeError::Usage(format!(
                "{flag} '{id}': no row of {} has this {} (ids run from '{}' to '{}')",
                input.source_name(),
                p.id_name,
                p.ids.first().map(String::as_str).unwrap_or(""),
                p.ids.last().map(String::as_str).unwrap_or("")
            ))
            .into()
        })
    };
    let (i, j) = (find("--from", &a.from)?, find("--to", &a.to)?);
    let device = Default::default();
    let (mu, _) = embed(&m.model, &p.x, &device);
    let z = interpolate(mu.row(i), mu.row(j), steps);
    let x = decode_mean(&m.model, &m.config.model, &z, &device);
    if let (Some(shape), Some(path)) = (shape, &a.output) {
        let mut tiles: Vec<&[f32]> = vec![p.x.row(i)];
        tiles.extend((0..x.rows).map(|s| x.row(s)));
        tiles.push(p.x.row(j));
        save_png(
            &Grid::new(tiles.len(), tiles.len(), shape).render(&tiles),
            path,
        )?;
        eprintln!(
            "drew '{}', {} interpolated images and '{}' into {}",
            a.from,
            steps,
            a.to,
            path.display()
        );
        return Ok(());
    }
    let out = Output::create(a.output.as_deref())?;
    let mut header = vec!["step".to_string(), "t".to_string()];
    header.extend(m.config.schema.input_names_of_columns());
    let rows = m.config.schema.inverse_rows(&x);
    out.write_csv(
        &header,
        rows.into_iter().enumerate().map(|(s, mut row)| {
            let t = s as f64 / (steps - 1) as f64;
            row.splice(0..0, [s.to_string(), vaetool::output::fmt_f(t)]);
            row
        }),
    )?;
    eprintln!("decoded {} points from '{}' to '{}'", steps, a.from, a.to);
    Ok(())
}
