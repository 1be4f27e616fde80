//! How an entry's command is run (SPEC §2): split into words and executed
//! directly when it has nothing only a shell understands, otherwise handed
//! to `/bin/sh -c`.
//!
//! The original IS::Init ran commands with Perl's `exec`, which does the
//! same. Running `sleep 1000` directly saves a shell start per spawn, leaves
//! no shell process between the daemon and the service (Debian's dash does
//! not exec the last command of `sh -c`), and makes the pid the daemon shows
//! the service's own. The test for "needs a shell" is Perl's
//! (`$&*(){}[]'";\|?<>~` backquote and newline), made stricter wherever
//! Perl's shortcut would behave differently from `sh -c`: a `#` (comment),
//! a first word that is a shell keyword or builtin (`cd`, `exec`, `echo`,
//! `if`, `!`, …) or an assignment (`VAR=x cmd`), and an empty command all
//! go to the shell.

/// What to execute for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Execute `argv[0]` (searched in `PATH` like `execvp`) with these words.
    Direct(Vec<String>),
    /// Run `/bin/sh -c SCRIPT`. The script is the command itself, or
    /// `exec COMMAND` when that is provably the same (see [`exec_prefixed`]).
    Shell(String),
}

/// Characters that make Perl's `exec` use the shell, plus `#`.
const META: &[char] =
    &['$', '&', '*', '(', ')', '{', '}', '[', ']', '\'', '"', ';', '\\', '|', '?', '<', '>', '~', '`', '\n', '#'];

/// Words the shell treats specially in command position: dash's reserved
/// words and builtins, and bash's extra reserved words for good measure. A
/// builtin that also exists as a program (`echo`, `test`, `kill`, …) can
/// behave differently from it (dash's `echo` expands `\n`), so it stays with
/// the shell too.
const SHELL_WORDS: &[&str] = &[
    "!", "{", "}", "[[", "]]", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in",
    "select", "then", "time", "until", "while", ".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command",
    "continue", "echo", "eval", "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash", "jobs", "kill",
    "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type",
    "ulimit", "umask", "unalias", "unset", "wait",
];

/// How to run `command`.
pub fn invocation(command: &str) -> Invocation {
    // Like Perl: one trailing newline is not a reason to use a shell.
    let trimmed = command.strip_suffix('\n').unwrap_or(command);
    let words: Vec<&str> = trimmed.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    let direct = match words.first() {
        None => false,
        Some(first) => !trimmed.contains(META) && !is_shell_word(first) && !first.contains('='),
    };
    if direct {
        return Invocation::Direct(words.into_iter().map(str::to_owned).collect());
    }
    Invocation::Shell(exec_prefixed(command).unwrap_or_else(|| command.to_owned()))
}

fn is_shell_word(word: &str) -> bool {
    SHELL_WORDS.contains(&word)
}

/// `exec COMMAND` when the shell is needed only for expansions, quoting or
/// redirections of one simple command, so that the shell replaces itself
/// with the service instead of waiting for it; `None` otherwise.
///
/// Provably the same as `sh -c COMMAND` because:
/// - there is exactly one simple command: no `;`, `|`, newline or `&`
///   (except inside the redirection operators `>&`, `<&`), no `(`, `)` or
///   backquote (so no subshell, command substitution or compound command
///   that could hide one), and its first word is neither a reserved word nor
///   a builtin (so `exec` runs the same program the shell would have run,
///   found by the same `PATH` search, with the same expansions and
///   redirections);
/// - the first word is a plain literal (no quoting, expansion, glob or
///   redirection), so it is the command name and not an assignment or a
///   redirection whose meaning `exec` would change (`exec >f` alone would
///   redirect the shell itself).
///
/// If the program is missing, `exec` fails like the plain command: dash
/// prints `exec: NAME: not found` and exits 127.
pub fn exec_prefixed(command: &str) -> Option<String> {
    let mut prev = ' ';
    for c in command.chars() {
        match c {
            ';' | '|' | '\n' | '(' | ')' | '`' => return None,
            '&' if prev != '>' && prev != '<' => return None,
            _ => {}
        }
        prev = c;
    }
    let first = command.split([' ', '\t']).find(|w| !w.is_empty())?;
    if first.contains(META) || first.contains('=') || is_shell_word(first) {
        return None;
    }
    Some(format!("exec {command}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(words: &[&str]) -> Invocation {
        Invocation::Direct(words.iter().map(|w| w.to_string()).collect())
    }

    fn shell(script: &str) -> Invocation {
        Invocation::Shell(script.to_string())
    }

    #[test]
    fn plain_commands_are_split_into_words() {
        assert_eq!(invocation("/usr/bin/sleep 1000"), direct(&["/usr/bin/sleep", "1000"]));
        assert_eq!(invocation("  sleep\t 5  "), direct(&["sleep", "5"]));
        assert_eq!(invocation("sendmail -bD -q30m\n"), direct(&["sendmail", "-bD", "-q30m"]));
        assert_eq!(invocation("env A=1 prog"), direct(&["env", "A=1", "prog"]));
        assert_eq!(invocation("prog --opt=a,b:c %x @y +z -"), direct(&["prog", "--opt=a,b:c", "%x", "@y", "+z", "-"]));
    }

    #[test]
    fn every_metacharacter_needs_the_shell() {
        for c in "$&*(){}[]'\";\\|?<>~`#".chars() {
            let command = format!("prog a{c}b");
            assert!(matches!(invocation(&command), Invocation::Shell(_)), "{command}");
        }
        assert!(matches!(invocation("prog a\nprog b"), Invocation::Shell(_)));
    }

    #[test]
    fn keywords_builtins_and_assignments_need_the_shell() {
        for command in ["cd /tmp", "exec sleep 1", ". ./env", "echo hi", "if true", "! false", "VAR=x prog", "true"] {
            assert_eq!(invocation(command), shell(command), "{command}");
        }
        assert_eq!(invocation(""), shell(""));
        assert_eq!(invocation("   "), shell("   "));
    }

    #[test]
    fn one_simple_command_gets_exec() {
        assert_eq!(invocation("prog $HOME"), shell("exec prog $HOME"));
        assert_eq!(invocation("prog >>/var/log/p 2>&1"), shell("exec prog >>/var/log/p 2>&1"));
        assert_eq!(invocation("prog 'a b' \"$X\" *.c ${Y}"), shell("exec prog 'a b' \"$X\" *.c ${Y}"));
    }

    #[test]
    fn anything_more_than_one_simple_command_is_left_alone() {
        for command in [
            "prog; other",
            "prog && other",
            "prog || other",
            "prog | other",
            "prog &",
            "prog &>f",
            "prog $(other)",
            "prog `other`",
            "(prog)",
            "{ prog; }",
            "prog\nother",
            "VAR=1 prog $X",
            ">f prog $X",
            "$CMD arg",
            "'prog' $X",
            "echo $X",
            "while true; do :; done",
        ] {
            assert_eq!(invocation(command), shell(command), "{command}");
        }
    }
}
