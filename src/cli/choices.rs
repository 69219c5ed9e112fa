//! Flags whose value is one of a few names (`--precision`, `--segmenter`, `--unit`, ...).
//!
//! `one_of(T::NAMES)` lists the names in `--help` and gives them to shell completion, while
//! the library type's own `FromStr` still does the parsing: its aliases (`fp16`, `half`,
//! `charades-sta`) keep working and its error message is the one shown.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::str::FromStr;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;

/// A value parser for a type with a closed set of names.
pub struct OneOf<T> {
    names: &'static [&'static str],
    parsed: PhantomData<fn() -> T>,
}

impl<T> Clone for OneOf<T> {
    fn clone(&self) -> Self {
        Self { names: self.names, parsed: PhantomData }
    }
}

pub fn one_of<T>(names: &'static [&'static str]) -> OneOf<T> {
    OneOf { names, parsed: PhantomData }
}

impl<T> TypedValueParser for OneOf<T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.parse::<T>().map_err(|e| {
            let flag = arg.map(|a| a.to_string()).unwrap_or_default();
            clap::Error::raw(ErrorKind::ValueValidation, format!("invalid value '{text}' for '{flag}': {e}\n"))
                .with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names.iter().map(|n| PossibleValue::new(*n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chronoseek::library::IndexUnit;
    use chronoseek::model::Precision;
    use chronoseek::query::SegmenterKind;
    use chronoseek::validator::scoring::ScoringMode;
    use chronoseek::validator::tasks::TaskFormat;

    /// Every name a flag lists (in `--help`, to shells) parses, and a name not listed is
    /// refused with the type's own message: a name added to a type's `FromStr` but not to its
    /// `NAMES`, or the other way round, fails here.
    fn check<T>(names: &'static [&'static str], refusal: &str)
    where
        T: FromStr + Clone + Send + Sync + 'static,
        T::Err: std::fmt::Display,
    {
        let mut cmd = clap::Command::new("chronoseek").arg(clap::Arg::new("flag").long("flag").value_name("NAME"));
        cmd.build();
        let arg = cmd.get_arguments().find(|a| a.get_id() == "flag").unwrap().clone();
        let parser = one_of::<T>(names);
        let listed: Vec<String> = parser.possible_values().unwrap().map(|v| v.get_name().to_string()).collect();
        assert_eq!(listed, names);
        for name in names {
            parser.parse_ref(&cmd, Some(&arg), OsStr::new(name)).unwrap_or_else(|e| panic!("{name} refused: {e}"));
        }
        let err = parser.parse_ref(&cmd, Some(&arg), OsStr::new("no-such-name")).err().expect("refused");
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        let text = err.to_string();
        assert!(text.contains("'no-such-name' for '--flag <NAME>'") && text.contains(refusal), "{text}");
    }

    #[test]
    fn every_listed_name_parses() {
        check::<Precision>(Precision::NAMES, "expected f32, f16, bf16 or q8");
        check::<SegmenterKind>(SegmenterKind::NAMES, "unknown segmenter");
        check::<IndexUnit>(IndexUnit::NAMES, "unknown index unit");
        check::<ScoringMode>(ScoringMode::NAMES, "unknown scoring mode");
        check::<TaskFormat>(TaskFormat::NAMES, "unknown task format");
    }
}
