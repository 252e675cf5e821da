from skindx.cli import main

raise SystemExit(main())
