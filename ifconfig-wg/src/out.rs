//! Standard output and error as a C program's stdio treats them: a
//! write that fails (the reader of a pipe has gone, as in
//! `ifconfig -a | head -1`) is dropped, not a panic. The command goes on
//! with its work and exits with the status it would have had; only its
//! output is lost. Rust ignores SIGPIPE, so without this `print!` would
//! panic with a backtrace instead.

use std::fmt;
use std::io::Write;

pub fn stdout(args: fmt::Arguments<'_>) {
    let _ = std::io::stdout().write_fmt(args);
}

pub fn stderr(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().write_fmt(args);
}

/// `print!` that drops what cannot be written.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::out::stdout(format_args!($($t)*)) };
}

/// `println!` that drops what cannot be written.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::stdout(format_args!("\n")) };
    ($($t:tt)*) => { $crate::out::stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` that drops what cannot be written.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::out::stderr(format_args!("{}\n", format_args!($($t)*))) };
}
