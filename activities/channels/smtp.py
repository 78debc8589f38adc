"""Email over SMTP (aiosmtplib): text and HTML alternatives, calendar invitations attached.

The Message-ID is derived from the outbox key, so in the one case where a message can be sent twice
(the worker dies after the server accepted it and before the outbox recorded that) both copies carry
the same Message-ID, and their invitations the same UID and SEQUENCE: clients show one entry.
Credentials come only from the environment (TANDEM_SMTP_USERNAME, TANDEM_SMTP_PASSWORD).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from activities.channels import Message, PermanentFailure, TransientFailure
from domain.program import EmailSecurity, EmailSettings
from domain.validation import is_email

USERNAME_ENV = "TANDEM_SMTP_USERNAME"
PASSWORD_ENV = "TANDEM_SMTP_PASSWORD"


def message_id(key: str, domain: str = "tandem.invalid") -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


class SmtpChannel:
    name = "email"

    def __init__(self, settings: EmailSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.username = environ.get(USERNAME_ENV) or None
        self.password = environ.get(PASSWORD_ENV) or None

    def build(self, message: Message) -> EmailMessage:
        if not is_email(message.to_address):
            raise PermanentFailure("invalid recipient address")
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = formataddr((message.to_name, message.to_address))
        mail["Subject"] = message.subject
        mail["Message-ID"] = message_id(message.key)
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        for att in message.attachments:
            maintype, _, rest = att.content_type.partition("/")
            subtype, *params = [p.strip() for p in rest.split(";")]
            extra = dict(p.split("=", 1) for p in params if "=" in p)
            mail.add_attachment(
                att.content, maintype=maintype, subtype=subtype, filename=att.filename, params=extra
            )
        return mail

    async def send(self, message: Message) -> None:
        mail = self.build(message)
        s = self.settings
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.host,
                port=s.port,
                username=self.username,
                password=self.password,
                use_tls=s.security is EmailSecurity.TLS,
                start_tls=s.security is EmailSecurity.STARTTLS,
                timeout=s.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            reason = f"recipient refused by the mail server ({', '.join(map(str, codes))})"
            if all(c >= 500 for c in codes):
                raise PermanentFailure(reason) from None
            raise TransientFailure(reason) from None
        except aiosmtplib.SMTPAuthenticationError as err:
            # wrong or missing credentials: fixable by the operator, so delay rather than drop
            raise TransientFailure(f"mail server refused the login ({err.code})") from None
        except aiosmtplib.SMTPResponseException as err:
            reason = f"mail server answered {err.code}"
            if 500 <= err.code < 600 and not isinstance(err, aiosmtplib.SMTPSenderRefused):
                raise PermanentFailure(reason) from None
            raise TransientFailure(reason) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise TransientFailure(f"mail server unreachable ({type(err).__name__})") from None
