//! `bacon-server`: the one Bacon binary. See `bacon-server --help`.

fn main() -> std::process::ExitCode {
    bacon_api::cli::main()
}
