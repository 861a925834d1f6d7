//! What a DATA argument holds — a table, or images from an IDX file or a folder — read by its
//! format with the reading options every front end shares, and a schema fitted on it or applied
//! to it. The command line's reading flags map one to one onto [`InputOptions`].

use std::path::{Path, PathBuf};

use super::image::{
    looks_like_idx, read_idx_images, read_image_folder, FolderOptions, ImageSet, ImageShape,
};
use super::{read_table, DataOptions, Prepared, ReadOptions, Schema, Table};
use crate::error::{Result, VaeError};

/// The kind of input file (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text with a header row (pixels too, with an image shape).
    Csv,
    /// An IDX file of images (MNIST style).
    Idx,
    /// A folder of PNG/JPEG files (recursive; the sub-folder is the label).
    Images,
}

/// How to read an input: the command line's reading flags.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// The input's kind (default: a folder is images, an IDX name is IDX, anything else CSV).
    pub format: Option<Format>,
    /// IDX label file of IDX images (`--labels`).
    pub labels: Option<PathBuf>,
    /// Resize every image of a folder to N×N pixels (`--image-size`).
    pub image_size: Option<usize>,
    /// The CSV's feature columns are the pixels of images of this shape (`--image-shape`).
    pub image_shape: Option<ImageShape>,
    /// Header and delimiter of a CSV.
    pub read: ReadOptions,
    /// The id column (`--id-column`), overriding a model's.
    pub id_column: Option<String>,
    /// The label column (`--label-column`), overriding a model's.
    pub label_column: Option<String>,
}

/// A table, or images read from IDX files or a folder.
#[derive(Debug, Clone)]
pub enum Input {
    /// A CSV file (a table, or pixels with an image shape).
    Table(Table),
    /// IDX images or a folder of images.
    Images(ImageSet),
}

impl Input {
    /// The source as printed in messages.
    pub fn source_name(&self) -> String {
        match self {
            Input::Table(t) => t.source_name(),
            Input::Images(s) => s.source_name(),
        }
    }

    /// Number of rows (images).
    pub fn n_rows(&self) -> usize {
        match self {
            Input::Table(t) => t.n_rows(),
            Input::Images(s) => s.x.rows,
        }
    }

    /// Whether the table has this column (images have no named columns).
    pub fn has_column(&self, name: &str) -> bool {
        match self {
            Input::Table(t) => t.column_index(name).is_some(),
            Input::Images(_) => false,
        }
    }
}

/// The format of `path`: `format`, else a folder is images, an IDX name is IDX, anything else
/// CSV.
pub fn format_of(path: &Path, format: Option<Format>) -> Format {
    format.unwrap_or_else(|| {
        if path.is_dir() {
            Format::Images
        } else if looks_like_idx(path) {
            Format::Idx
        } else {
            Format::Csv
        }
    })
}

fn usage(msg: String) -> VaeError {
    VaeError::Usage(msg)
}

/// Reads `path` (a table or images); for a model trained on images of `target`, a folder's
/// images are resized and converted to it and IDX images must have it.
pub fn read_input(path: &Path, o: &InputOptions, target: Option<ImageShape>) -> Result<Input> {
    let format = format_of(path, o.format);
    let name = path.display();
    if o.labels.is_some() && format != Format::Idx {
        return Err(usage(format!(
            "--labels names the IDX label file of IDX images; {name} is not IDX (hint: \
             --label-column names a CSV column; a folder's labels are its sub-folder names)"
        )));
    }
    if o.image_size.is_some() && format != Format::Images {
        return Err(usage(format!(
            "--image-size resizes the images of a folder; {name} is not a folder"
        )));
    }
    if o.image_shape.is_some() && format != Format::Csv {
        return Err(usage(format!(
            "--image-shape lays out the pixel columns of a CSV; {name} already has a shape"
        )));
    }
    if format != Format::Csv {
        for (flag, v) in [
            ("--id-column", &o.id_column),
            ("--label-column", &o.label_column),
        ] {
            if v.is_some() {
                return Err(usage(format!(
                    "{flag} names a CSV column; images have none (their id is the path or the \
                     index; labels come from sub-folders or --labels)"
                )));
            }
        }
    }
    let check_target = |s: &ImageSet| -> Result<()> {
        match target {
            Some(t) if t != s.shape => Err(VaeError::Model(format!(
                "{}: the images are {} (channels x height x width) but the model takes {t}",
                s.source_name(),
                s.shape
            ))),
            _ => Ok(()),
        }
    };
    if format != Format::Csv && path == Path::new("-") {
        return Err(usage(
            "-: IDX files and image folders are read from a path, not from standard input \
             (only CSV can come from -)"
                .into(),
        ));
    }
    Ok(match format {
        Format::Csv => Input::Table(read_table(path, &o.read)?),
        Format::Idx => {
            let s = read_idx_images(path, o.labels.as_deref())?;
            check_target(&s)?;
            Input::Images(s)
        }
        Format::Images => {
            if let Some(n) = o.image_size.filter(|n| !(1..=4096).contains(n)) {
                return Err(usage(format!(
                    "--image-size must be from 1 to 4096, got {n}"
                )));
            }
            let size = o.image_size.map(|n| (n, n));
            if let (Some(t), Some(sz)) = (target, size) {
                if (t.height, t.width) != sz {
                    return Err(usage(format!(
                        "--image-size {} differs from the model's {}x{} images",
                        sz.0, t.height, t.width
                    )));
                }
            }
            let opts = FolderOptions {
                size: size.or(target.map(|t| (t.height, t.width))),
                channels: target.map(|t| t.channels),
            };
            let s = read_image_folder(path, &opts)?;
            check_target(&s)?;
            Input::Images(s)
        }
    })
}

/// Fits a schema on a training input (`data` chooses and preprocesses a table's columns; an
/// image shape lays out a CSV's pixels) and applies it; the warnings come back with the
/// prepared rows (`Prepared::warnings`).
pub fn fit_input(
    input: &Input,
    o: &InputOptions,
    data: &DataOptions,
) -> Result<(Schema, Prepared)> {
    match input {
        Input::Table(table) => match o.image_shape {
            Some(shape) => Schema::fit_pixels(table, data, shape),
            None => {
                let (schema, mut warnings) = Schema::fit(table, data)?;
                let mut prepared = schema.transform(table)?;
                warnings.append(&mut prepared.warnings);
                prepared.warnings = warnings;
                Ok((schema, prepared))
            }
        },
        Input::Images(s) => Ok((Schema::for_images(s.shape), s.clone().into_prepared())),
    }
}

/// Applies a stored schema to an input; the options' id and label columns override the
/// stored ones (and must exist).
pub fn prepare_with(schema: &Schema, input: &Input, o: &InputOptions) -> Result<Prepared> {
    let table = match input {
        Input::Table(t) => t,
        Input::Images(s) => {
            return match schema.image {
                Some(shape) if schema.features.is_empty() && shape == s.shape => {
                    Ok(s.clone().into_prepared())
                }
                Some(shape) if !schema.features.is_empty() => Err(VaeError::Model(format!(
                    "{}: the model was trained on a CSV of {shape} pixels; give it such a CSV",
                    s.source_name()
                ))),
                Some(shape) => Err(VaeError::Model(format!(
                    "{}: the images are {} but the model takes {shape}",
                    s.source_name(),
                    s.shape
                ))),
                None => Err(VaeError::Model(format!(
                    "{}: the model was trained on a table, not on images",
                    s.source_name()
                ))),
            };
        }
    };
    let mut schema = schema.clone();
    if let Some(id) = &o.id_column {
        schema.id_column = Some(id.clone());
    }
    if let Some(l) = &o.label_column {
        schema.label_column = Some(l.clone());
    }
    for (flag, col) in [
        ("--id-column", &o.id_column),
        ("--label-column", &o.label_column),
    ] {
        if let Some(c) = col {
            if table.column_index(c).is_none() {
                return Err(usage(format!(
                    "{}: {flag} '{c}' is not a column (columns: {})",
                    table.source_name(),
                    table.headers.join(", ")
                )));
            }
        }
    }
    schema.transform(table)
}
