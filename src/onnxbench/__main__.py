from onnxbench.cli import main

main()
