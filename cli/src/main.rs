fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so a closed stdout or stderr (`meshgen ... | head`)
    // makes the next print panic. Ended by the signal instead, as any Unix
    // filter is: the reader has what it wanted.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any
    // thread starts; no handler runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    meshgen_cli::cli::run()
}
