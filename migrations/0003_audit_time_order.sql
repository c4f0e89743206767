DROP INDEX `audit_logs_project`;--> statement-breakpoint
CREATE INDEX `audit_logs_project_at` ON `audit_logs` (`project`,`at`);