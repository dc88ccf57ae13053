ALTER TABLE groups RESET (fillfactor);
