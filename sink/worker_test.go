package sink

func runWorkerIfAsked() bool { return false }
