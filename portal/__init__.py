"""The participant portal: signed links open small server-rendered forms that act on a pairing."""
