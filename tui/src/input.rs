//! Key presses → [`Action`]s. Pure: no state but the [`InputMode`], so the
//! whole key contract (README "Keys") is unit-tested here.

use crate::app::{Action, InputMode};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The action a key means in `mode`, if any. Key releases (reported by
/// some terminals) are ignored so a key never acts twice.
pub fn action_for(key: KeyEvent, mode: InputMode) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        return Some(Action::Quit);
    }
    // Keys that mean the same thing everywhere.
    let common = match key.code {
        KeyCode::Up => Some(Action::Up),
        KeyCode::Down => Some(Action::Down),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown => Some(Action::PageDown),
        KeyCode::Enter => Some(Action::Confirm),
        KeyCode::Esc => Some(Action::Cancel),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match mode {
        InputMode::Normal => normal(key.code, ctrl),
        InputMode::Text => match key.code {
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => Some(Action::Input(c)),
            _ => None,
        },
        InputMode::Log => match key.code {
            KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Char('j') => Some(Action::Down),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Bottom),
            KeyCode::Char('t') => Some(Action::ToggleTimestamps),
            KeyCode::Char('q') => Some(Action::Cancel),
            _ => None,
        },
        InputMode::Palette => match key.code {
            KeyCode::Tab => Some(Action::FocusNext),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => Some(Action::Input(c)),
            _ => None,
        },
        InputMode::Help => match key.code {
            KeyCode::Char('?' | 'q') => Some(Action::Cancel),
            _ => None,
        },
        InputMode::Confirm => match key.code {
            KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
            _ => None,
        },
        InputMode::Popup => match key.code {
            KeyCode::Char('P') => Some(Action::Pulses),
            KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Char('j') => Some(Action::Down),
            KeyCode::Char('q') => Some(Action::Cancel),
            _ => None,
        },
    }
}

fn normal(code: KeyCode, ctrl: bool) -> Option<Action> {
    if ctrl {
        return None;
    }
    Some(match code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('k') => Action::Up,
        KeyCode::Char('j') => Action::Down,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char('r') => Action::Reload,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('f') => Action::ToggleFollow,
        KeyCode::Char('R') => Action::Restart,
        KeyCode::Char('S') => Action::Signal,
        KeyCode::Char('s') => Action::CycleSort,
        KeyCode::Char('I') => Action::ReverseSort,
        KeyCode::Char('n') => Action::NextMatch,
        KeyCode::Char('N') => Action::PrevMatch,
        KeyCode::Char('w') => Action::ToggleWrap,
        KeyCode::Char('x') => Action::Xray,
        KeyCode::Char('A') => Action::Timeline,
        KeyCode::Char(':') => Action::OpenPalette,
        KeyCode::Char('L') => Action::GroupLog,
        KeyCode::Char('P') => Action::Pulses,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn normal(code: KeyCode) -> Option<Action> {
        action_for(key(code), InputMode::Normal)
    }

    #[test]
    fn browsing_keys() {
        assert_eq!(normal(KeyCode::Up), Some(Action::Up));
        assert_eq!(normal(KeyCode::Char('k')), Some(Action::Up));
        assert_eq!(normal(KeyCode::Down), Some(Action::Down));
        assert_eq!(normal(KeyCode::Char('j')), Some(Action::Down));
        assert_eq!(normal(KeyCode::PageUp), Some(Action::PageUp));
        assert_eq!(normal(KeyCode::PageDown), Some(Action::PageDown));
        assert_eq!(normal(KeyCode::Home), Some(Action::Top));
        assert_eq!(normal(KeyCode::Char('g')), Some(Action::Top));
        assert_eq!(normal(KeyCode::End), Some(Action::Bottom));
        assert_eq!(normal(KeyCode::Char('G')), Some(Action::Bottom));
        assert_eq!(normal(KeyCode::Tab), Some(Action::FocusNext));
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT), InputMode::Normal),
            Some(Action::FocusPrev)
        );
        assert_eq!(normal(KeyCode::Enter), Some(Action::Confirm));
        assert_eq!(normal(KeyCode::Esc), Some(Action::Cancel));
        assert_eq!(normal(KeyCode::Char('r')), Some(Action::Reload));
        assert_eq!(normal(KeyCode::Char('/')), Some(Action::StartFilter));
        assert_eq!(normal(KeyCode::Char('?')), Some(Action::ToggleHelp));
        assert_eq!(normal(KeyCode::Char('f')), Some(Action::ToggleFollow));
        assert_eq!(normal(KeyCode::Char('q')), Some(Action::Quit));
        assert_eq!(normal(KeyCode::Char('x')), Some(Action::Xray));
        assert_eq!(normal(KeyCode::Char('A')), Some(Action::Timeline));
        assert_eq!(normal(KeyCode::Char(':')), Some(Action::OpenPalette));
        assert_eq!(normal(KeyCode::Char('L')), Some(Action::GroupLog));
        assert_eq!(normal(KeyCode::Char('P')), Some(Action::Pulses));
        assert_eq!(action_for(key(KeyCode::Char('t')), InputMode::Log), Some(Action::ToggleTimestamps));
        assert_eq!(normal(KeyCode::Char('z')), None);
        let palette = |code| action_for(key(code), InputMode::Palette);
        assert_eq!(palette(KeyCode::Tab), Some(Action::FocusNext), "Tab completes");
        assert_eq!(palette(KeyCode::Char('q')), Some(Action::Input('q')), "letters are text");
        assert_eq!(palette(KeyCode::Up), Some(Action::Up), "history");
    }

    #[test]
    fn process_action_sort_and_search_keys() {
        assert_eq!(normal(KeyCode::Char('R')), Some(Action::Restart));
        assert_eq!(normal(KeyCode::Char('S')), Some(Action::Signal));
        assert_eq!(normal(KeyCode::Char('s')), Some(Action::CycleSort));
        assert_eq!(normal(KeyCode::Char('I')), Some(Action::ReverseSort));
        assert_eq!(normal(KeyCode::Char('n')), Some(Action::NextMatch));
        assert_eq!(normal(KeyCode::Char('N')), Some(Action::PrevMatch));
        assert_eq!(normal(KeyCode::Char('w')), Some(Action::ToggleWrap));
        let confirm = |code| action_for(key(code), InputMode::Confirm);
        assert_eq!(confirm(KeyCode::Char('y')), Some(Action::Input('y')));
        assert_eq!(confirm(KeyCode::Char('n')), Some(Action::Input('n')));
        assert_eq!(confirm(KeyCode::Enter), Some(Action::Confirm));
        assert_eq!(confirm(KeyCode::Esc), Some(Action::Cancel));
        assert_eq!(confirm(KeyCode::Tab), None);
    }

    #[test]
    fn ctrl_c_quits_in_every_mode() {
        for mode in [InputMode::Normal, InputMode::Text, InputMode::Help, InputMode::Popup, InputMode::Confirm] {
            let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
            assert_eq!(action_for(ctrl_c, mode), Some(Action::Quit), "{mode:?}");
        }
    }

    #[test]
    fn letters_are_text_while_typing() {
        let text = |code| action_for(key(code), InputMode::Text);
        assert_eq!(text(KeyCode::Char('q')), Some(Action::Input('q')));
        assert_eq!(text(KeyCode::Char('j')), Some(Action::Input('j')));
        assert_eq!(text(KeyCode::Char('/')), Some(Action::Input('/')));
        assert_eq!(text(KeyCode::Backspace), Some(Action::Backspace));
        assert_eq!(text(KeyCode::Enter), Some(Action::Confirm));
        assert_eq!(text(KeyCode::Esc), Some(Action::Cancel));
        assert_eq!(text(KeyCode::Up), Some(Action::Up));
        assert_eq!(text(KeyCode::Tab), None);
        let alt_x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT);
        assert_eq!(action_for(alt_x, InputMode::Text), None);
    }

    #[test]
    fn help_and_popups_close() {
        assert_eq!(action_for(key(KeyCode::Char('?')), InputMode::Help), Some(Action::Cancel));
        assert_eq!(action_for(key(KeyCode::Char('q')), InputMode::Help), Some(Action::Cancel));
        assert_eq!(action_for(key(KeyCode::Esc), InputMode::Help), Some(Action::Cancel));
        assert_eq!(action_for(key(KeyCode::Char('q')), InputMode::Popup), Some(Action::Cancel));
        assert_eq!(action_for(key(KeyCode::Char('j')), InputMode::Popup), Some(Action::Down));
    }

    #[test]
    fn releases_are_ignored() {
        let release = KeyEvent { kind: KeyEventKind::Release, ..key(KeyCode::Char('q')) };
        assert_eq!(action_for(release, InputMode::Normal), None);
        let repeat = KeyEvent { kind: KeyEventKind::Repeat, state: KeyEventState::NONE, ..key(KeyCode::Down) };
        assert_eq!(action_for(repeat, InputMode::Normal), Some(Action::Down));
    }
}
