//! Reading message export files (tech v2 `messages_dump` CSVs) as a stream of rows with bounded
//! memory: [`csv`] parses records incrementally, [`rows`] maps them onto [`crate::model::ExportRow`].

pub(crate) mod csv;
pub(crate) mod rows;

pub(crate) use rows::export_rows;
