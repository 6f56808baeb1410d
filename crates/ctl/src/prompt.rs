//! Interactive questions (dialoguer), asked only on a terminal: without one, patronictl fails
//! with a message naming the option to pass instead of waiting for input that never comes.
//! Commands ask through the [`Ask`] trait so that selection and confirmation can be tested
//! with scripted answers.

use std::io::IsTerminal;

use anyhow::bail;

/// Where patronictl's questions go.
pub trait Ask {
    /// Asks for a value with a default (`[default]` as click shows it); `option` names what to
    /// pass on the command line instead.
    fn input(&self, question: &str, default: &str, option: &str) -> anyhow::Result<String>;
    /// Asks a yes/no question (default no), which `--force` answers on the command line.
    fn confirm(&self, question: &str) -> anyhow::Result<bool>;
}

/// `value` when it was given on the command line; else, unless `force`, the answer to
/// `question` (`None` with `force`: the command's default applies).
pub fn given_or_asked(
    ask: &dyn Ask,
    value: Option<String>,
    force: bool,
    question: &str,
    default: &str,
    option: &str,
) -> anyhow::Result<Option<String>> {
    match (value, force) {
        (Some(v), _) => Ok(Some(v)),
        (None, true) => Ok(None),
        (None, false) => ask.input(question, default, option).map(Some),
    }
}

/// The user at the terminal on standard input, if there is one.
pub struct Terminal {
    interactive: bool,
}

impl Terminal {
    /// Standard input, asked only when it is a terminal.
    pub fn stdin() -> Terminal {
        Terminal {
            interactive: std::io::stdin().is_terminal(),
        }
    }

    /// A terminal that is (or is not) there, for tests.
    #[cfg(test)]
    pub fn assumed(interactive: bool) -> Terminal {
        Terminal { interactive }
    }

    fn require(&self, question: &str, option: &str) -> anyhow::Result<()> {
        if !self.interactive {
            bail!("{question}: no terminal to ask on; pass {option}");
        }
        Ok(())
    }
}

impl Ask for Terminal {
    fn input(&self, question: &str, default: &str, option: &str) -> anyhow::Result<String> {
        self.require(question, option)?;
        let mut prompt = dialoguer::Input::<String>::new()
            .with_prompt(question)
            .allow_empty(true);
        if !default.is_empty() {
            prompt = prompt.default(default.to_string());
        }
        Ok(prompt.interact_text()?)
    }

    fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        self.require(question, "--force")?;
        Ok(dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()?)
    }
}

#[cfg(test)]
pub mod script {
    //! Scripted answers for unit tests.

    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::Ask;

    /// Answers questions from a list, and records every question asked.
    #[derive(Default)]
    pub struct Script {
        answers: RefCell<VecDeque<String>>,
        /// The questions asked, in order.
        pub asked: RefCell<Vec<String>>,
    }

    impl Script {
        /// Answers `answers` in turn (`y`/`n` for confirmations); a question beyond them fails.
        pub fn new(answers: &[&str]) -> Script {
            Script {
                answers: RefCell::new(answers.iter().map(|a| a.to_string()).collect()),
                asked: RefCell::default(),
            }
        }

        fn next(&self, question: &str) -> anyhow::Result<String> {
            self.asked.borrow_mut().push(question.to_string());
            self.answers
                .borrow_mut()
                .pop_front()
                .ok_or_else(|| anyhow::anyhow!("unexpected question: {question}"))
        }
    }

    impl Ask for Script {
        fn input(&self, question: &str, default: &str, _option: &str) -> anyhow::Result<String> {
            let answer = self.next(question)?;
            Ok(if answer.is_empty() {
                default.to_string()
            } else {
                answer
            })
        }

        fn confirm(&self, question: &str) -> anyhow::Result<bool> {
            Ok(self.next(question)? == "y")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_nothing_is_asked_and_the_option_is_named() {
        let t = Terminal::assumed(false);
        let e = t.confirm("Are you sure you want to reload members pg1?");
        assert_eq!(
            e.map_err(|e| e.to_string()).unwrap_err(),
            "Are you sure you want to reload members pg1?: no terminal to ask on; pass --force"
        );
        let e = t.input("Candidate ['pg1']", "", "--candidate");
        assert_eq!(
            e.map_err(|e| e.to_string()).unwrap_err(),
            "Candidate ['pg1']: no terminal to ask on; pass --candidate"
        );
    }

    #[test]
    fn given_values_and_force_ask_nothing() {
        let ask = script::Script::new(&["", "2026-11-23T20:55"]);
        let asked = |value: Option<&str>, force| {
            given_or_asked(
                &ask,
                value.map(str::to_string),
                force,
                "When?",
                "now",
                "--scheduled",
            )
            .expect("answered")
        };
        assert_eq!(asked(Some("now"), false), Some("now".into()));
        assert_eq!(asked(None, true), None);
        assert!(ask.asked.borrow().is_empty());
        assert_eq!(
            asked(None, false),
            Some("now".into()),
            "Enter takes the default"
        );
        assert_eq!(asked(None, false), Some("2026-11-23T20:55".into()));
    }
}
