//! The CSV reader and the schema on any bytes: reading, fitting a schema (every scaling and
//! imputation) and applying it must return a value or an error, never panic, hang or allocate
//! without bound. The first byte picks the options; the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vaetool::data::{read_table, DataOptions, Impute, ReadOptions, Scale, Schema};

fuzz_target!(|data: &[u8]| {
    let Some((&opt, body)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.csv");
    std::fs::write(&path, body).unwrap();
    let read = ReadOptions {
        has_header: opt & 1 == 0,
        delimiter: if opt & 2 == 0 { b',' } else { b';' },
    };
    let Ok(table) = read_table(&path, &read) else {
        return;
    };
    let opts = DataOptions {
        scale: [Scale::Standard, Scale::Robust, Scale::Minmax, Scale::None][(opt >> 2) as usize % 4],
        impute: [None, Some(Impute::Mean), Some(Impute::Median)][(opt >> 4) as usize % 3],
        categorical: if opt & 64 != 0 {
            table.headers.first().cloned().into_iter().collect()
        } else {
            Vec::new()
        },
        ..DataOptions::default()
    };
    if let Ok((schema, _)) = Schema::fit(&table, &opts) {
        if let Ok(p) = schema.transform(&table) {
            // what the model receives is finite
            assert!(p.x.data.iter().all(|v| v.is_finite()));
        }
    }
});
