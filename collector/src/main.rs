//! `tilsyn-collector`: the command line lives in the library ([`tilsyn_collector::cli`]),
//! so that everything it does can be tested without this binary.

fn main() -> std::process::ExitCode {
    tilsyn_collector::cli::main()
}
