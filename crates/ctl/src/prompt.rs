//! Interactive questions (dialoguer), asked only on a terminal: without one, patronictl fails
//! with a message naming the option to pass instead of waiting for input that never comes.

use std::io::IsTerminal;

use anyhow::bail;

fn require_terminal(question: &str, option: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("{question}: no terminal to ask on; pass {option}");
    }
    Ok(())
}

/// Asks for a value with a default (`[default]` as click shows it).
pub fn input(question: &str, default: &str, option: &str) -> anyhow::Result<String> {
    require_terminal(question, option)?;
    let mut prompt = dialoguer::Input::<String>::new()
        .with_prompt(question)
        .allow_empty(true);
    if !default.is_empty() {
        prompt = prompt.default(default.to_string());
    }
    Ok(prompt.interact_text()?)
}

/// Asks a yes/no question (default no).
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    require_terminal(question, "--force")?;
    Ok(dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()?)
}
