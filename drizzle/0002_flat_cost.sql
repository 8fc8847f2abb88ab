ALTER TABLE `conversations` ADD `unread` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Hand-added: unread counts move from each message (read_at) to its conversation; carried over before read_at goes.
UPDATE `conversations` SET `unread` = (SELECT count(*) FROM `messages` m WHERE m.`conversation_id` = `conversations`.`id` AND m.`read_at` IS NULL AND m.`role` != 'user');--> statement-breakpoint
DROP INDEX `messages_agent_unread`;--> statement-breakpoint
ALTER TABLE `messages` DROP COLUMN `read_at`;--> statement-breakpoint
CREATE INDEX `conversations_unread` ON `conversations` (`agent_id`,`unread`) WHERE unread > 0;--> statement-breakpoint
CREATE INDEX `agents_created` ON `agents` (`created_at`);--> statement-breakpoint
CREATE INDEX `decisions_pending` ON `decisions` (`agent_id`,`id`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `outbox_status` ON `outbox` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `sessions_expiry` ON `sessions` (`expires_at`);--> statement-breakpoint
CREATE INDEX `task_runs_open` ON `task_runs` (`created_at`) WHERE status IN ('due', 'running');
