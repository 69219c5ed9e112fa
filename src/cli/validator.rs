use clap::Args;
use chronoseek::config::GlobalOpts;
use super::{CliError, output::Output};
#[derive(Debug, Args)]
pub struct ValidatorArgs {}
pub async fn run(_g: &GlobalOpts, _a: ValidatorArgs, _out: &Output) -> Result<(), CliError> { Ok(()) }
