//! Plots as PNG through `plotters` (bitmap backend, text with the embedded DejaVu Sans font
//! so no system fonts are needed): latent scatter plots with a legend, score histograms with
//! the threshold line, and training curves. Also [`pca2`], the projection used to draw latent
//! spaces of more than two dimensions.

use std::path::Path;
use std::sync::Once;

use linfa_linalg::eigh::Eigh;
use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::data::Matrix;
use crate::error::{Result, VaeError};
use crate::picture::save_png;

/// Width and height of every plot, in pixels.
pub const PLOT_SIZE: (u32, u32) = (900, 650);

/// Tableau's ten colours (matplotlib's default cycle), then repeated.
const COLOURS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of group `i`.
pub fn colour(i: usize) -> RGBColor {
    let (r, g, b) = COLOURS[i % COLOURS.len()];
    RGBColor(r, g, b)
}

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the dejavu crate.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> VaeError {
    VaeError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("cannot draw the plot: {e}")),
    }
}

/// Draws with `draw` on a white canvas of [`PLOT_SIZE`] and writes the PNG atomically.
fn render<F>(path: &Path, draw: F) -> Result<()>
where
    F: FnOnce(
        &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> std::result::Result<(), Box<dyn std::error::Error>>,
{
    fonts();
    let (w, h) = PLOT_SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        draw(&root).map_err(|e| plot_err(path, e))?;
        root.present().map_err(|e| plot_err(path, e))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer matches the plot size");
    save_png(&img, path)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart with the common caption, margins and mesh.
fn chart<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    axes: (&str, &str),
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> std::result::Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(axes.0)
        .y_desc(axes.1)
        .label_style(("sans-serif", 14))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()?;
    Ok(chart)
}

/// Draws the legend of the labelled series.
fn legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string().into())
}

/// A range that covers `values` with a 5 % margin (a unit range around a constant).
/// An axis range whose width f64 can hold (an axis from −1e308 to 1e308 cannot be drawn:
/// its ticks never come out), else a clear error naming what is plotted.
fn plottable(r: std::ops::Range<f64>, what: &str) -> Result<std::ops::Range<f64>> {
    if (r.end - r.start).is_finite() {
        Ok(r)
    } else {
        Err(crate::error::VaeError::Input(format!(
            "the {what} span from {:e} to {:e}, more than a plot can show",
            r.start, r.end
        )))
    }
}

fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad)..(hi + pad)
}

/// A scatter plot of 2-D points coloured by group, with a legend naming the groups.
pub fn scatter(
    path: &Path,
    points: &[[f64; 2]],
    groups: &[usize],
    names: &[String],
    title: &str,
    axes: (&str, &str),
) -> Result<()> {
    let xr = plottable(padded_range(points.iter().map(|p| p[0])), "points")?;
    let yr = plottable(padded_range(points.iter().map(|p| p[1])), "points")?;
    render(path, |root| {
        let mut chart = chart(root, title, axes, xr, yr)?;
        let radius = if points.len() > 20_000 { 1 } else { 2 };
        for (g, name) in names.iter().enumerate() {
            let c = colour(g);
            chart
                .draw_series(
                    points
                        .iter()
                        .zip(groups)
                        .filter(|(_, &k)| k == g)
                        .map(|(p, _)| Circle::new((p[0], p[1]), radius, c.mix(0.7).filled())),
                )?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
        }
        legend(&mut chart)
    })
}

/// Counts of `values` in `bins` equal-width bins over `[lo, hi]`.
pub fn histogram_counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut counts = vec![0usize; bins];
    let width = (hi - lo) / bins as f64;
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = if width > 0.0 {
            (((v - lo) / width) as usize).min(bins - 1)
        } else {
            0
        };
        counts[b] += 1;
    }
    counts
}

/// A histogram of scores, with the threshold as a red vertical line.
pub fn histogram(
    path: &Path,
    scores: &[f64],
    threshold: Option<f64>,
    title: &str,
    x_desc: &str,
) -> Result<()> {
    const BINS: usize = 50;
    // Anomaly scores are heavy-tailed: the x axis ends at the 99.5th percentile (or just past
    // the threshold), and the rows beyond fall in the last bin, which the legend counts.
    let mut sorted: Vec<f64> = scores.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let top_value = sorted.last().copied().unwrap_or(1.0);
    let cut = if sorted.is_empty() {
        top_value
    } else {
        crate::data::schema::quantile_sorted(&sorted, 0.995)
    };
    let cut = threshold.map_or(cut, |t| cut.max(t + 0.1 * (t - sorted[0]).abs()));
    // (finite scores only: f64::min would put a NaN into the last bin)
    let clipped: Vec<f64> = sorted.iter().map(|&v| v.min(cut)).collect();
    let beyond = sorted.iter().filter(|&&v| v > cut).count();
    let range = plottable(
        padded_range(clipped.iter().copied().chain(threshold)),
        "scores",
    )?;
    let counts = histogram_counts(&clipped, range.start, range.end, BINS);
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
    let width = (range.end - range.start) / BINS as f64;
    render(path, |root| {
        let mut chart = chart(root, title, (x_desc, "rows"), range.clone(), 0.0..top)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = range.start + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], colour(0).filled())
            }))?
            .label(if beyond > 0 {
                format!(
                    "{} rows ({beyond} above {cut:.4} counted in the last bin)",
                    scores.len()
                )
            } else {
                format!("{} rows", scores.len())
            })
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], colour(0).filled()));
        if let Some(t) = threshold {
            chart
                .draw_series(LineSeries::new(
                    [(t, 0.0), (t, top)],
                    ShapeStyle::from(&RED).stroke_width(2),
                ))?
                .label(format!("threshold {t:.4}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// Line plots of several series against the epoch (training curves). Series may have gaps
/// (`NaN`), which are skipped.
pub fn curves(
    path: &Path,
    epochs: &[f64],
    series: &[(String, Vec<f64>)],
    title: &str,
) -> Result<()> {
    let xr = plottable(padded_range(epochs.iter().copied()), "epochs")?;
    let yr = plottable(
        padded_range(series.iter().flat_map(|(_, v)| v.iter().copied())),
        "losses",
    )?;
    render(path, |root| {
        let mut chart = chart(root, title, ("epoch", "loss per row"), xr, yr)?;
        for (i, (name, v)) in series.iter().enumerate() {
            let c = colour(i);
            let pts: Vec<(f64, f64)> = epochs
                .iter()
                .zip(v)
                .filter(|(_, y)| y.is_finite())
                .map(|(&x, &y)| (x, y))
                .collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// Projects the rows of `x` on their first two principal components. Returns the points and
/// the fraction of the variance each component explains. With two columns or fewer the
/// columns are returned as they are (a single column gets a zero second coordinate).
pub fn pca2(x: &Matrix) -> (Vec<[f64; 2]>, [f64; 2]) {
    let (n, d) = (x.rows, x.cols);
    if d <= 2 {
        let pts = (0..n)
            .map(|i| {
                let r = x.row(i);
                [f64::from(r[0]), r.get(1).map_or(0.0, |&v| f64::from(v))]
            })
            .collect();
        return (pts, [1.0, if d == 2 { 1.0 } else { 0.0 }]);
    }
    let mut mean = vec![0f64; d];
    for i in 0..n {
        for (m, &v) in mean.iter_mut().zip(x.row(i)) {
            *m += f64::from(v) / n as f64;
        }
    }
    let mut cov = Array2::<f64>::zeros((d, d));
    for i in 0..n {
        let r: Vec<f64> = x
            .row(i)
            .iter()
            .zip(&mean)
            .map(|(&v, m)| f64::from(v) - m)
            .collect();
        for a in 0..d {
            for b in a..d {
                cov[[a, b]] += r[a] * r[b] / (n.max(2) - 1) as f64;
            }
        }
    }
    for a in 0..d {
        for b in 0..a {
            cov[[a, b]] = cov[[b, a]];
        }
    }
    let total: f64 = (0..d).map(|a| cov[[a, a]]).sum();
    let (vals, vecs) = cov.eigh().expect("a covariance matrix is symmetric");
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let (c1, c2) = (order[0], order[1]);
    let pts = (0..n)
        .map(|i| {
            let r = x.row(i);
            let mut p = [0f64; 2];
            for j in 0..d {
                let v = f64::from(r[j]) - mean[j];
                p[0] += v * vecs[[j, c1]];
                p[1] += v * vecs[[j, c2]];
            }
            p
        })
        .collect();
    let frac = |v: f64| if total > 0.0 { v.max(0.0) / total } else { 0.0 };
    (pts, [frac(vals[c1]), frac(vals[c2])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_main_axis() {
        // points on the line y = 2x in 3-D, plus small noise on z
        let mut data = Vec::new();
        for i in 0..50 {
            let t = i as f32 / 10.0 - 2.5;
            data.extend([t, 2.0 * t, if i % 2 == 0 { 0.01 } else { -0.01 }]);
        }
        let (pts, frac) = pca2(&Matrix::new(50, 3, data));
        assert!(frac[0] > 0.999, "{frac:?}");
        // the first coordinate is ±√5·t: distances along the line are kept
        let d = (pts[10][0] - pts[0][0]).abs();
        assert!((d - 5f64.sqrt()).abs() < 1e-4, "{d}");
        assert!(pts.iter().all(|p| p[1].abs() < 0.02));
    }

    #[test]
    fn histogram_bins_cover_the_range() {
        let c = histogram_counts(&[0.0, 0.1, 0.5, 0.99, 1.0, f64::NAN], 0.0, 1.0, 4);
        assert_eq!(c, vec![2, 0, 1, 2]);
    }

    #[test]
    fn plots_are_written_with_text() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.png");
        scatter(
            &p,
            &[[0.0, 0.0], [1.0, 1.0], [0.5, 0.2]],
            &[0, 1, 1],
            &["a".into(), "b".into()],
            "latent means",
            ("z_0", "z_1"),
        )
        .unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), PLOT_SIZE);
        // the second group's colour appears (points and legend)
        let orange = img.pixels().filter(|px| px.0 == [255, 127, 14]).count();
        assert!(orange > 10, "{orange}");
        // text was drawn: dark pixels exist beyond the axes' lines
        let dark = img
            .pixels()
            .filter(|px| px.0.iter().all(|&v| v < 60))
            .count();
        assert!(dark > 500, "{dark}");
        let h = d.path().join("h.png");
        histogram(&h, &[1.0, 2.0, 2.5, 9.0], Some(5.0), "scores", "score").unwrap();
        let img = image::open(&h).unwrap().to_rgb8();
        assert!(img.pixels().any(|px| px.0 == [255, 0, 0]), "threshold line");
    }
}
