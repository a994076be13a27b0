"""Staff: accounts, roles and sessions of the console (`accounts`), the audited staff actions and views
shared by the CLI and the console (`services`), the console's knowledge/gaps/simulation figures
(`console`), and the helpdesk webhook (`helpdesk`)."""
