from replay.player import main

raise SystemExit(main())
