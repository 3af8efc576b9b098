fn main() -> std::process::ExitCode {
    meshgen_cli::cli::run()
}
