ALTER TABLE `activity` ADD `ref_id` text;--> statement-breakpoint
ALTER TABLE `activity` ADD `outcome` text;