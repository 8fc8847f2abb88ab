ALTER TABLE `decisions` ADD `expires_at` text;--> statement-breakpoint
CREATE INDEX `decisions_expiry` ON `decisions` (`expires_at`) WHERE status = 'pending' AND expires_at IS NOT NULL;