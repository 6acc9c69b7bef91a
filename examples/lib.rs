//! Placeholder library target; the programs are the `[[example]]` targets beside it.
