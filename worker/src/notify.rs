//! Delivery of account verification codes, for `bind_email` / `bind_phone`: an email
//! through the SMTP server `--smtp-addr` names (plain SMTP, [`shared::smtp`]), a phone code
//! as a JSON POST to the HTTP hook `--phone-hook-url` names (the adapter in front of an SMS
//! gateway). Either may be left unconfigured: the call then fails with
//! [`NotifyError::NotConfigured`] without touching the network, and the game function
//! answers its documented status for it.
//!
//! Both calls block for at most about [`NotifySettings::timeout`] per network step; they
//! are rare (one per bind request), so nothing is pooled.

use std::fmt;
use std::time::Duration;

use serde_json::json;
use shared::smtp::{self, Address, Message};

/// An HTTP client for one call to a hook the operator configured (the phone hook, the
/// purchase verifier): `timeout` to connect, twice that for the whole exchange, and a
/// non-2xx answer handed back as an answer, not an error, so the caller can judge it.
pub(crate) fn hook_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_global(Some(timeout * 2))
        .http_status_as_error(false)
        .build()
        .into()
}

/// The sender address when `--smtp-from` is not given.
pub const DEFAULT_FROM: &str = "noreply@lukseun.invalid";
/// The time each network step may take when the `Options` do not say otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest phone number accepted, in digits (E.164 allows 15; some gateways take
/// extensions).
const MAX_PHONE_DIGITS: usize = 20;

/// Where codes go. Built by [`crate::Options::notify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// `host:port` of the SMTP server; empty = email codes not configured.
    pub smtp_addr: String,
    /// The `From` address of code mails.
    pub smtp_from: String,
    /// `http://...` URL the phone codes are POSTed to; empty = phone codes not configured.
    pub phone_hook_url: String,
    /// Connect timeout, and the time each read/write step may take.
    pub timeout: Duration,
}

impl Default for NotifySettings {
    /// Nothing configured.
    fn default() -> NotifySettings {
        NotifySettings {
            smtp_addr: String::new(),
            smtp_from: DEFAULT_FROM.to_string(),
            phone_hook_url: String::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Why a code was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyError {
    /// No SMTP server (email) or no hook (phone) is configured: nothing was sent.
    NotConfigured,
    /// The email address or phone number cannot be sent to as it is (line breaks, no `@`,
    /// not digits, ...): nothing was sent. The text says why.
    InvalidRecipient(String),
    /// The server or hook was unreachable, timed out, or refused: the code may not have
    /// arrived. The text says why (for the log, not for players).
    Failed(String),
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::NotConfigured => write!(f, "code delivery not configured"),
            NotifyError::InvalidRecipient(why) => write!(f, "invalid recipient: {why}"),
            NotifyError::Failed(why) => write!(f, "code delivery failed: {why}"),
        }
    }
}

impl std::error::Error for NotifyError {}

/// The language of a code mail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// From a client's language tag: `zh`, `zh-CN`, `zh_Hans`, ... are Chinese, everything
    /// else (empty included) English.
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

/// The subject and body of a code mail. Both contain the code.
pub fn email_text(code: &str, lang: Lang) -> (String, String) {
    match lang {
        Lang::En => (
            format!("Your Lukseun verification code: {code}"),
            format!(
                "Your Lukseun verification code is {code}.\n\n\
                 Enter it in the game to confirm this email address. If you did not ask \
                 for it, ignore this mail.\n"
            ),
        ),
        Lang::Zh => (
            format!("Lukseun 验证码：{code}"),
            format!(
                "您的 Lukseun 验证码是 {code}。\n\n\
                 请在游戏中输入以确认此邮箱地址。如果这不是您本人的操作，请忽略此邮件。\n"
            ),
        ),
    }
}

/// Mails `code` to `to_email`. Returns once the SMTP server accepted the message.
pub fn send_email_code(
    settings: &NotifySettings,
    to_email: &str,
    code: &str,
    lang: Lang,
) -> Result<(), NotifyError> {
    if settings.smtp_addr.is_empty() {
        return Err(NotifyError::NotConfigured);
    }
    let to = Address::parse(to_email).map_err(|e| NotifyError::InvalidRecipient(e.to_string()))?;
    let from = Address::parse(&settings.smtp_from)
        .map_err(|e| NotifyError::Failed(format!("--smtp-from: {e}")))?;
    let (subject, body) = email_text(code, lang);
    let message = Message {
        from,
        to,
        subject,
        body,
    };
    let options = smtp::Options {
        connect_timeout: settings.timeout,
        io_timeout: settings.timeout,
        helo_name: String::new(),
    };
    smtp::send(&settings.smtp_addr, &options, &message)
        .map_err(|e| NotifyError::Failed(e.to_string()))
}

/// A phone number the hook gets: an optional `+`, then 4 to 20 digits; spaces, dots,
/// hyphens and parentheses between digits are allowed as written and sent unchanged.
pub fn check_phone(phone: &str) -> Result<(), NotifyError> {
    let refuse = |why: &str| Err(NotifyError::InvalidRecipient(format!("phone number {why}")));
    let digits_part = phone.strip_prefix('+').unwrap_or(phone);
    if !digits_part
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return refuse("may hold only digits, a leading '+', spaces, '-', '.', '(' and ')'");
    }
    let digits = digits_part.chars().filter(char::is_ascii_digit).count();
    if !(4..=MAX_PHONE_DIGITS).contains(&digits) {
        return refuse("must have 4 to 20 digits");
    }
    Ok(())
}

/// POSTs `{"phone_number": phone, "code": code}` to the phone hook. Any 2xx answer is
/// success; anything else, or no answer within the timeout, is [`NotifyError::Failed`].
pub fn send_phone_code(
    settings: &NotifySettings,
    phone: &str,
    code: &str,
) -> Result<(), NotifyError> {
    if settings.phone_hook_url.is_empty() {
        return Err(NotifyError::NotConfigured);
    }
    check_phone(phone)?;
    let agent = hook_agent(settings.timeout);
    let url = &settings.phone_hook_url;
    let mut response = agent
        .post(url)
        .send_json(json!({"phone_number": phone, "code": code}))
        .map_err(|e| NotifyError::Failed(format!("phone hook {url}: {e}")))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let answer = response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    Err(NotifyError::Failed(format!(
        "phone hook {url} answered {status}: {:.200}",
        answer.trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::{HttpReceiver, Smtp};

    const WAIT: Duration = Duration::from_secs(10);

    fn email_settings(smtp: &Smtp) -> NotifySettings {
        NotifySettings {
            smtp_addr: smtp.addr(),
            ..NotifySettings::default()
        }
    }

    fn phone_settings(receiver: &HttpReceiver) -> NotifySettings {
        NotifySettings {
            phone_hook_url: format!("{}/sms/code", receiver.url()),
            ..NotifySettings::default()
        }
    }

    #[test]
    fn an_email_code_arrives_at_the_real_smtp_server() {
        let smtp = Smtp::start();
        send_email_code(
            &email_settings(&smtp),
            "player@example.com",
            "482913",
            Lang::En,
        )
        .unwrap();
        let mail = smtp.wait_for(1, WAIT).remove(0);
        assert!(mail.subject.contains("482913"), "{}", mail.subject);
        assert!(mail.body.contains("482913"), "{}", mail.body);
        assert_eq!(mail.header("From"), Some(DEFAULT_FROM));
        assert_eq!(mail.header("To"), Some("player@example.com"));
        // The envelope aiosmtpd recorded.
        assert_eq!(mail.header("X-MailFrom"), Some(DEFAULT_FROM));
        assert_eq!(mail.header("X-RcptTo"), Some("player@example.com"));
        assert_eq!(mail.header("MIME-Version"), Some("1.0"));
        assert_eq!(
            mail.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(mail
            .header("Message-ID")
            .unwrap()
            .ends_with("@lukseun.invalid>"));
        assert!(mail.header("Date").unwrap().ends_with(" +0000"));
    }

    #[test]
    fn a_chinese_subject_and_body_round_trip() {
        let smtp = Smtp::start();
        let settings = NotifySettings {
            smtp_from: "codes@game.example".into(),
            ..email_settings(&smtp)
        };
        send_email_code(&settings, "wanjia@example.cn", "000731", Lang::Zh).unwrap();
        let mail = smtp.wait_for(1, WAIT).remove(0);
        let (subject, body) = email_text("000731", Lang::Zh);
        assert_eq!(mail.subject, subject);
        assert_eq!(mail.subject, "Lukseun 验证码：000731");
        // Sent with CRLF line ends (canonical text); the text is otherwise unchanged.
        assert_eq!(mail.body.replace("\r\n", "\n"), body);
        assert!(mail.header("Subject").unwrap().starts_with("=?utf-8?B?"));
        assert_eq!(mail.header("X-MailFrom"), Some("codes@game.example"));
        // Everything on the wire and in the file is ASCII.
        assert!(mail.raw.is_ascii());
    }

    #[test]
    fn several_codes_arrive_in_order() {
        let smtp = Smtp::start();
        let settings = email_settings(&smtp);
        for code in ["111111", "222222", "333333"] {
            send_email_code(&settings, "a@example.com", code, Lang::En).unwrap();
        }
        let mails = smtp.wait_for(3, WAIT);
        let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "Your Lukseun verification code: 111111",
                "Your Lukseun verification code: 222222",
                "Your Lukseun verification code: 333333"
            ]
        );
    }

    #[test]
    fn injecting_addresses_are_refused_without_sending() {
        let smtp = Smtp::start();
        let settings = email_settings(&smtp);
        for bad in [
            "victim@example.com\r\nRCPT TO:<other@example.com>",
            "victim@example.com\nBcc: other@example.com",
            "victim@example.com>\r\nDATA",
            "<victim@example.com>",
            "no-at-sign",
            "",
        ] {
            match send_email_code(&settings, bad, "123456", Lang::En) {
                Err(NotifyError::InvalidRecipient(why)) => {
                    assert!(!why.contains(['\r', '\n']), "{why}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // A good one afterwards is the only message the server ever got.
        send_email_code(&settings, "ok@example.com", "654321", Lang::En).unwrap();
        let mails = smtp.wait_for(1, WAIT);
        std::thread::sleep(Duration::from_millis(200));
        let mails_later = smtp.messages();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails_later.len(), 1);
        assert_eq!(mails[0].header("X-RcptTo"), Some("ok@example.com"));
    }

    #[test]
    fn an_unreachable_or_frozen_smtp_server_fails_within_the_timeout() {
        let port = testkit::free_port();
        let settings = NotifySettings {
            smtp_addr: format!("127.0.0.1:{port}"),
            timeout: Duration::from_millis(500),
            ..NotifySettings::default()
        };
        let e = send_email_code(&settings, "a@example.com", "1", Lang::En).unwrap_err();
        assert!(matches!(e, NotifyError::Failed(_)), "{e}");

        let smtp = Smtp::start();
        smtp.pause();
        let settings = NotifySettings {
            timeout: Duration::from_millis(500),
            ..email_settings(&smtp)
        };
        let started = std::time::Instant::now();
        let e = send_email_code(&settings, "a@example.com", "1", Lang::En).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(e.to_string().contains("timed out"), "{e}");
        smtp.resume();
    }

    #[test]
    fn a_bad_sender_setting_fails_clearly() {
        let smtp = Smtp::start();
        let settings = NotifySettings {
            smtp_from: "not an address".into(),
            ..email_settings(&smtp)
        };
        let e = send_email_code(&settings, "a@example.com", "1", Lang::En).unwrap_err();
        assert!(e.to_string().contains("--smtp-from"), "{e}");
    }

    #[test]
    fn a_phone_code_is_posted_as_json_to_the_hook() {
        let receiver = HttpReceiver::start();
        send_phone_code(&phone_settings(&receiver), "+86 138-0013-8000", "902211").unwrap();
        let request = receiver.wait_for(1, WAIT);
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/sms/code");
        let content_type = request.header("content-type").unwrap();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"phone_number": "+86 138-0013-8000", "code": "902211"})
        );
    }

    #[test]
    fn a_hook_answering_an_error_is_a_failure() {
        let receiver = HttpReceiver::start();
        receiver.set_status(500);
        receiver.set_body(br#"{"error":"gateway down"}"#);
        let e = send_phone_code(&phone_settings(&receiver), "13800138000", "1").unwrap_err();
        match &e {
            NotifyError::Failed(why) => {
                assert!(why.contains("500"), "{why}");
                assert!(why.contains("gateway down"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // It was sent (and refused), once.
        receiver.wait_for(1, WAIT);
        receiver.set_status(404);
        assert!(send_phone_code(&phone_settings(&receiver), "13800138000", "1").is_err());
        receiver.set_status(204);
        send_phone_code(&phone_settings(&receiver), "13800138000", "1").unwrap();
        assert_eq!(receiver.requests().len(), 3);
    }

    #[test]
    fn a_hook_nobody_listens_on_is_a_failure() {
        let settings = NotifySettings {
            phone_hook_url: format!("http://127.0.0.1:{}/x", testkit::free_port()),
            timeout: Duration::from_millis(500),
            ..NotifySettings::default()
        };
        let e = send_phone_code(&settings, "13800138000", "1").unwrap_err();
        assert!(matches!(e, NotifyError::Failed(_)), "{e}");
    }

    #[test]
    fn bad_phone_numbers_are_refused_without_sending() {
        let receiver = HttpReceiver::start();
        let settings = phone_settings(&receiver);
        for bad in [
            "",
            "123",
            "+",
            "1380013800\n0",
            "abc12345",
            "1".repeat(21).as_str(),
        ] {
            let e = send_phone_code(&settings, bad, "1").unwrap_err();
            assert!(
                matches!(e, NotifyError::InvalidRecipient(_)),
                "{bad:?}: {e}"
            );
        }
        for good in ["1234", "+8613800138000", "(555) 123-4567", "555.123.4567"] {
            check_phone(good).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(receiver.requests().is_empty());
    }

    #[test]
    fn nothing_configured_is_not_configured() {
        let settings = NotifySettings::default();
        assert_eq!(
            send_email_code(&settings, "a@example.com", "1", Lang::En),
            Err(NotifyError::NotConfigured)
        );
        assert_eq!(
            send_phone_code(&settings, "13800138000", "1"),
            Err(NotifyError::NotConfigured)
        );
        // Checked before the recipient: the answer does not depend on what the player sent.
        assert_eq!(
            send_email_code(&settings, "bad\r\n", "1", Lang::En),
            Err(NotifyError::NotConfigured)
        );
    }

    #[test]
    fn languages_come_from_tags() {
        assert_eq!(Lang::from_tag("zh"), Lang::Zh);
        assert_eq!(Lang::from_tag("zh-CN"), Lang::Zh);
        assert_eq!(Lang::from_tag("ZH_hans"), Lang::Zh);
        assert_eq!(Lang::from_tag("en-US"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
        assert_eq!(Lang::from_tag("zhx"), Lang::En);
        for lang in [Lang::En, Lang::Zh] {
            let (subject, body) = email_text("424242", lang);
            assert!(subject.contains("424242") && body.contains("424242"));
        }
    }
}
