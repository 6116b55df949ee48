"""smreport: a social-media project's log in git, turned into an executive briefing site."""

__version__ = "0.1.0"
