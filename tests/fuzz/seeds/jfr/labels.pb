




thread_name
workerGET /api