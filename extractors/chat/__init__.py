"""Chat extractors: exports (WhatsApp, Telegram, Messenger/Instagram, Discord) and phone message databases."""
