//! The published JSON Schemas (`schema/*.json`) and the loader agree on a corpus of
//! valid and invalid configs. Files named `*-loader-only-*` are refused by the loader but
//! pass the schema: bounds (zero, above `P366D`) that a regular expression cannot express.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use aws_jit_core::{Catalog, ConfigFile, ConfigSource};

const ACCESS_SCHEMA: &str = include_str!("../../../schema/access_configs.schema.json");
const S3_SCHEMA: &str = include_str!("../../../schema/s3_configs.schema.json");

#[test]
fn the_schemas_and_the_loader_agree_on_the_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/configs");
    let access = jsonschema::validator_for(&serde_json::from_str(ACCESS_SCHEMA).unwrap()).unwrap();
    let s3 = jsonschema::validator_for(&serde_json::from_str(S3_SCHEMA).unwrap()).unwrap();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let (file, validator) = if name.starts_with("s3-") {
            (ConfigFile::S3Configs, &s3)
        } else {
            (ConfigFile::AccessConfigs, &access)
        };
        let by_loader = Catalog::parse(&[ConfigSource { file, text: &text }]).is_ok();
        let by_schema = validator.is_valid(&serde_json::from_str(&text).unwrap());
        let (loader_expected, schema_expected) = if name.contains("-ok-") {
            (true, true)
        } else if name.contains("-loader-only-") {
            (false, true)
        } else {
            (false, false)
        };
        assert_eq!(by_loader, loader_expected, "loader on {name}");
        assert_eq!(by_schema, schema_expected, "schema on {name}");
        checked += 1;
    }
    assert!(checked >= 25, "the corpus went missing: {checked} files");
}
