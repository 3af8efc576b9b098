fn main() -> std::process::ExitCode {
    meshgen::cli::run()
}
