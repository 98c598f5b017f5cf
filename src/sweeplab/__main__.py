from sweeplab.cli import main

raise SystemExit(main())
