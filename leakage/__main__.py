from leakage.cli import main

raise SystemExit(main())
