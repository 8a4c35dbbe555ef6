//! The `polc` binary: everything is in the library; see `polc::cli`.

fn main() {
    std::process::exit(polc::cli::run(std::env::args_os()));
}
