//! The password of `pake token --username` and `pake user create`: the first line of standard
//! input, so scripts pipe it in (`echo "$PASSWORD" | pake token --username ada`); at a terminal,
//! a prompt on the terminal with echo off, so the password never shows on screen or in the
//! terminal's scrollback. The prompt goes to the terminal, not to standard output, which keeps
//! `TOKEN=$(pake token --username ada)` working.

use std::io::{BufRead, IsTerminal};

/// Reads the password, prompting with `prompt` when standard input is a terminal.
pub fn read_password(prompt: &str) -> std::io::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
