//! `vaetool evaluate --truth FILE --truth-column C (--pred FILE --pred-column C | --scores FILE)`:
//! clustering metrics (ACC, NMI, ARI and the confusion matrix) or anomaly metrics (ROC-AUC,
//! average precision) of one file's predictions against another's labels. Rows are matched by
//! `--id-column` when given, else by order.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use vaetool::anomaly::outlier_labels;
use vaetool::data::{read_table, ReadOptions, Table};
use vaetool::metrics::{
    ari, average_precision, clustering_accuracy, contingency, encode_labels, nmi, roc_auc,
};
use vaetool::VaeError;

/// Flags of `vaetool evaluate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// CSV with the true labels.
    #[arg(long)]
    truth: PathBuf,
    /// Column of `--truth` holding the labels.
    #[arg(long)]
    truth_column: String,
    /// CSV with predicted clusters.
    #[arg(long, required_unless_present = "scores", conflicts_with = "scores")]
    pred: Option<PathBuf>,
    /// Column of `--pred` holding the clusters.
    #[arg(long, default_value = "cluster")]
    pred_column: String,
    /// CSV with anomaly scores (vaetool anomalies output); labels are 1 = outlier, 0 = normal.
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Column of `--scores` holding the scores.
    #[arg(long, default_value = "score")]
    score_column: String,
    /// Match rows by this column (present in both files) instead of by order.
    #[arg(long)]
    id_column: Option<String>,
}

fn column(t: &Table, name: &str) -> Result<Vec<String>> {
    let c = t.column_index(name).ok_or_else(|| {
        VaeError::Usage(format!(
            "{}: no column '{name}' (columns: {})",
            t.source_name(),
            t.headers.join(", ")
        ))
    })?;
    Ok(t.columns[c].to_vec())
}

/// Pairs (truth, prediction) cells by id or by order.
fn align(
    truth: &Table,
    tcol: &str,
    pred: &Table,
    pcol: &str,
    id: Option<&str>,
) -> Result<(Vec<String>, Vec<String>)> {
    let t = column(truth, tcol)?;
    let p = column(pred, pcol)?;
    let Some(id) = id else {
        if t.len() != p.len() {
            return Err(VaeError::Input(format!(
                "{} has {} rows but {} has {}: match rows with --id-column",
                truth.source_name(),
                t.len(),
                pred.source_name(),
                p.len()
            ))
            .into());
        }
        return Ok((t, p));
    };
    let tid = column(truth, id)?;
    let pid = column(pred, id)?;
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, v) in pid.iter().enumerate() {
        if index.insert(v.as_str(), i).is_some() {
            return Err(VaeError::Input(format!(
                "{}: line {}: id '{v}' appears twice",
                pred.source_name(),
                pred.lines[i]
            ))
            .into());
        }
    }
    let mut pairs = (Vec::new(), Vec::new());
    for (i, v) in tid.iter().enumerate() {
        let j = index.get(v.as_str()).ok_or_else(|| {
            VaeError::Input(format!(
                "{}: line {}: id '{v}' is not in {}",
                truth.source_name(),
                truth.lines[i],
                pred.source_name()
            ))
        })?;
        pairs.0.push(t[i].clone());
        pairs.1.push(p[*j].clone());
    }
    if tid.len() != pid.len() {
        return Err(VaeError::Input(format!(
            "{} has {} ids that are not in {}",
            pred.source_name(),
            pid.len() - tid.len(),
            truth.source_name()
        ))
        .into());
    }
    Ok(pairs)
}

/// Label indices sorted by name, numerically when every name is a number.
fn display_order(names: &[String]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..names.len()).collect();
    let nums: Option<Vec<f64>> = names.iter().map(|n| n.parse().ok()).collect();
    match nums {
        Some(v) => idx.sort_by(|&a, &b| v[a].total_cmp(&v[b])),
        None => idx.sort_by(|&a, &b| names[a].cmp(&names[b])),
    }
    idx
}

pub fn run(a: Args) -> Result<()> {
    let opts = ReadOptions::default();
    let truth = read_table(&a.truth, &opts)?;
    if let Some(scores_path) = &a.scores {
        let scores_t = read_table(scores_path, &opts)?;
        let (t, s) = align(
            &truth,
            &a.truth_column,
            &scores_t,
            &a.score_column,
            a.id_column.as_deref(),
        )?;
        let y = outlier_labels(&t, &truth.source_name(), &a.truth_column)?;
        let scores: Vec<f64> = s
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let bad = |what: &str| {
                    VaeError::Input(format!(
                        "{}: row {}, column '{}': {what}",
                        scores_t.source_name(),
                        i + 1,
                        a.score_column
                    ))
                };
                match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    Ok(_) => Err(bad(&format!("\"{v}\" is not a finite score"))),
                    Err(_) => Err(bad(&format!(
                        "cannot read \"{}\" as a score",
                        vaetool::data::clip(v)
                    ))),
                }
            })
            .collect::<Result<_, _>>()?;
        let (Some(auc), Some(ap)) = (roc_auc(&scores, &y), average_precision(&scores, &y)) else {
            return Err(VaeError::Input(format!(
                "{}: column '{}' holds only one class; ROC-AUC needs outliers and normal rows",
                truth.source_name(),
                a.truth_column
            ))
            .into());
        };
        println!(
            "rows {}  outliers {}",
            y.len(),
            y.iter().filter(|&&b| b).count()
        );
        println!("ROC-AUC {auc:.4}  average precision {ap:.4}");
        return Ok(());
    }
    let pred_path = a.pred.as_ref().expect("clap requires --pred or --scores");
    let pred = read_table(pred_path, &opts)?;
    let (t, p) = align(
        &truth,
        &a.truth_column,
        &pred,
        &a.pred_column,
        a.id_column.as_deref(),
    )?;
    let (tc, tnames) = encode_labels(&t);
    let (pc, pnames) = encode_labels(&p);
    println!(
        "rows {}  classes {}  clusters {}",
        t.len(),
        tnames.len(),
        pnames.len()
    );
    println!(
        "ACC {:.4}  NMI {:.4}  ARI {:.4}",
        clustering_accuracy(&tc, &pc),
        nmi(&tc, &pc),
        ari(&tc, &pc)
    );
    println!("confusion matrix (rows: true classes, columns: clusters)");
    let m = contingency(&tc, &pc);
    let (rows, cols) = (display_order(&tnames), display_order(&pnames));
    let w = tnames.iter().map(String::len).max().unwrap_or(1).max(5);
    let mut line = format!("{:>w$}", "");
    for &j in &cols {
        line.push_str(&format!(" {:>6}", pnames[j]));
    }
    println!("{line}");
    for &i in &rows {
        let mut line = format!("{:>w$}", tnames[i]);
        for &j in &cols {
            line.push_str(&format!(" {:>6}", m[i].get(j).copied().unwrap_or(0)));
        }
        println!("{line}");
    }
    Ok(())
}
