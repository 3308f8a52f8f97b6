//! Shell-style `KEY=VALUE` files (`/etc/sysconfig/pacemaker`, `/etc/default/pacemaker`), read
//! as data and never executed.
//!
//! In: the file's bytes. Out: the assignments in file order, and one warning per line we
//! could not use (with its line number). We understand what these files contain in practice:
//! comments, blank lines, an optional `export`, single quotes, double quotes with backslash
//! escapes, and trailing `# comments`. We never expand `$VAR` or run `$(...)`: such text is
//! kept literally, with a warning, because a shell would have given something else.

/// One usable `NAME=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Variable name, `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// The value after quote removal.
    pub value: String,
    /// 1-based line number, for messages.
    pub line: usize,
}

/// The result of reading one file: what we use, and what we report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Assignments in file order; a later one overrides an earlier one with the same name.
    pub assignments: Vec<Assignment>,
    /// Human-readable problems, each naming its line.
    pub warnings: Vec<String>,
}

impl EnvFile {
    /// Reads `text` (the whole file). Never fails: bad lines become warnings.
    pub fn parse(text: &str) -> EnvFile {
        let mut out = EnvFile::default();
        for (idx, raw) in text.lines().enumerate() {
            let line_no = idx + 1;
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some((name, value, literal_dollar))) => {
                    if literal_dollar {
                        out.warnings.push(format!(
                            "line {line_no}: '{name}' contains '$' or '`'; \
                             it is taken literally, not expanded as a shell would"
                        ));
                    }
                    out.assignments.push(Assignment {
                        name,
                        value,
                        line: line_no,
                    });
                }
                Err(why) => out
                    .warnings
                    .push(format!("line {line_no}: {why}; line ignored")),
            }
        }
        out
    }

    /// The last value given to `name`, as a shell would leave it.
    pub fn get(&self, name: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.name == name)
    }
}

/// Parses one line: `Ok(None)` for blank and comment lines.
fn parse_line(raw: &str) -> Result<Option<(String, String, bool)>, String> {
    let line = raw.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = line
        .strip_prefix("export")
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map(str::trim_start)
        .unwrap_or(line);
    let Some(eq) = line.find('=') else {
        return Err(String::from("no '=' found"));
    };
    let name = &line[..eq];
    if !is_valid_name(name) {
        return Err(format!("'{name}' is not a valid variable name"));
    }
    let (value, dollar) = parse_value(&line[eq + 1..])?;
    Ok(Some((name.to_string(), value, dollar)))
}

/// Names as the shell accepts them (and as Pacemaker's own env-file reader does).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Removes shell quoting from a value; returns the value and whether it held an unexpanded
/// `$` or backquote.
fn parse_value(text: &str) -> Result<(String, bool), String> {
    let mut value = String::new();
    let mut dollar = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Unquoted whitespace ends the value; anything after must be a comment.
            ' ' | '\t' => {
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    break;
                }
                return Err(String::from(
                    "unquoted space in value (a shell would run the rest as a command)",
                ));
            }
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(ch) => value.push(ch),
                    None => return Err(String::from("unterminated single quote")),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(ch @ ('"' | '\\' | '$' | '`')) => value.push(ch),
                        Some(ch) => {
                            value.push('\\');
                            value.push(ch);
                        }
                        None => return Err(String::from("unterminated double quote")),
                    },
                    Some(ch) => {
                        dollar |= ch == '$' || ch == '`';
                        value.push(ch);
                    }
                    None => return Err(String::from("unterminated double quote")),
                }
            },
            '\\' => match chars.next() {
                Some(ch) => value.push(ch),
                None => return Err(String::from("line continuation is not supported")),
            },
            _ => {
                dollar |= c == '$' || c == '`';
                value.push(c);
            }
        }
    }
    Ok((value, dollar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unquoted_like_a_shell_would() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("PCMK_remote_port=3122", Some(("PCMK_remote_port", "3122"))),
            ("  export PCMK_debug=yes", Some(("PCMK_debug", "yes"))),
            ("A='x y # z'", Some(("A", "x y # z"))),
            (r#"A="x \"q\" \$ \n""#, Some(("A", r#"x "q" $ \n"#))),
            ("A=x # trailing comment", Some(("A", "x"))),
            ("A=", Some(("A", ""))),
            (r"A=a\ b", Some(("A", "a b"))),
            ("A=x#y", Some(("A", "x#y"))),
            ("# PCMK_debug=yes", None),
            ("", None),
            ("exported=1", Some(("exported", "1"))),
        ];
        for (line, want) in cases {
            let f = EnvFile::parse(line);
            let got = f
                .assignments
                .first()
                .map(|a| (a.name.as_str(), a.value.as_str()));
            assert_eq!(got, *want, "{line}");
            assert!(f.warnings.is_empty(), "{line}: {:?}", f.warnings);
        }
    }

    #[test]
    fn bad_lines_are_reported_with_their_number_and_skipped() {
        let text = "A=1\nnot a line\n1B=2\nC='open\nD=x y\nE=$HOME\nF=2\n";
        let f = EnvFile::parse(text);
        let names: Vec<_> = f.assignments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["A", "E", "F"]);
        assert_eq!(f.warnings.len(), 5, "{:?}", f.warnings);
        assert!(f.warnings[0].starts_with("line 2:"));
        assert!(f.warnings[4].contains("literally"));
        assert_eq!(f.get("E").map(|a| a.value.as_str()), Some("$HOME"));
    }

    #[test]
    fn the_last_assignment_wins() {
        let f = EnvFile::parse("A=1\nA=2\n");
        assert_eq!(
            f.get("A").map(|a| (a.value.as_str(), a.line)),
            Some(("2", 2))
        );
    }
}
